#pragma once
// Error codes a client sees in {"type":"error","code":...} frames.

#include <string_view>

namespace tickgate::protocol {

enum class ErrorCode {
    bad_request,             // malformed JSON, unknown op, wrong field types, binary frame, malformed topic
    unknown_topic,           // an exact topic no feed publishes
    too_many_subscriptions,  // over --max-subscriptions for this connection
    rate_limited,            // over --client-rate
    forbidden,               // not in the token's (or the anonymous) entitlements, or a refresh for another user
    invalid_token,           // a token that did not verify (then close 4001)
};

std::string_view error_code_name(ErrorCode code) noexcept;

}  // namespace tickgate::protocol
