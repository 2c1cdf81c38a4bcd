#pragma once
// Error codes a client sees in {"type":"error","code":...} frames.

#include <cstddef>
#include <string_view>

namespace tickgate::protocol {

enum class ErrorCode {
    bad_request,             // malformed JSON, unknown op, wrong field types, binary frame, malformed topic
    unknown_topic,           // an exact topic no feed publishes
    too_many_subscriptions,  // over --max-subscriptions for this connection
    rate_limited,            // over --client-rate
    forbidden,               // not in the token's (or the anonymous) entitlements, or a refresh for another user
    invalid_token,           // a token that did not verify (then close 4001)
    too_many_topics,         // a publish that would open a room past --max-publish-topics
    unavailable,             // a publish the sequencer could not take (NATS publisher unreachable)
};

inline constexpr std::size_t kErrorCodeCount = 8;  // the enumerators above, for per-code counters

std::string_view error_code_name(ErrorCode code) noexcept;

}  // namespace tickgate::protocol
