#pragma once
// Error codes a client sees in {"type":"error","code":...} frames.

#include <string_view>

namespace tickgate::protocol {

enum class ErrorCode {
    bad_request,             // malformed JSON, unknown op, wrong field types, binary frame, malformed topic
    unknown_topic,           // an exact topic no feed publishes
    too_many_subscriptions,  // over --max-subscriptions for this connection
    rate_limited,            // over --client-rate
};

std::string_view error_code_name(ErrorCode code) noexcept;

}  // namespace tickgate::protocol
