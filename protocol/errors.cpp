#include "protocol/errors.hpp"

namespace tickgate::protocol {

std::string_view error_code_name(ErrorCode code) noexcept {
    switch (code) {
        case ErrorCode::bad_request: return "bad_request";
        case ErrorCode::unknown_topic: return "unknown_topic";
        case ErrorCode::too_many_subscriptions: return "too_many_subscriptions";
        case ErrorCode::rate_limited: return "rate_limited";
        case ErrorCode::forbidden: return "forbidden";
        case ErrorCode::invalid_token: return "invalid_token";
        case ErrorCode::too_many_topics: return "too_many_topics";
        case ErrorCode::unavailable: return "unavailable";
    }
    return "bad_request";  // unreachable for valid enumerators; keeps the wire value well-formed
}

}  // namespace tickgate::protocol
