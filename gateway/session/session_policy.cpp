#include "gateway/session/session_policy.hpp"

#include <algorithm>

namespace tickgate::gateway {

RateLimiter::Verdict RateLimiter::take(std::int64_t now_ns) {
    const double rate = rate_;
    tokens_ = std::min(2.0 * rate, tokens_ + static_cast<double>(now_ns - refilled_ns_) * rate * 1e-9);
    refilled_ns_ = now_ns;
    if (now_ns - window_start_ns_ >= kRateWindowNs) {
        window_start_ns_ = now_ns;
        window_allowed_ = window_refused_ = 0;
    }
    if (tokens_ >= 1.0) {
        tokens_ -= 1.0;
        strikes_ = 0;
        ++window_allowed_;
        return Verdict::allowed;
    }
    ++window_refused_;
    const bool sustained = window_refused_ > rate_ && window_refused_ > window_allowed_;
    return ++strikes_ > rate_ || sustained ? Verdict::exceeded : Verdict::refused;
}

SweepAction LivenessPolicy::check(const LivenessState& s, std::int64_t now_ns, bool may_ping) const noexcept {
    if (now_ns - s.last_activity_ns >= silent_heartbeats * heartbeat_ns) return SweepAction::close_heartbeat_timeout;
    if (s.write_in_flight && now_ns - s.inflight_queued_since_ns > slow_timeout_ns) return SweepAction::close_slow_consumer;
    if (may_ping && now_ns - s.last_ping_ns >= heartbeat_ns) return SweepAction::ping;
    return SweepAction::none;
}

}  // namespace tickgate::gateway
