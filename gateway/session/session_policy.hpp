#pragma once
// The session's policies as plain functions of time and counters, so they are tested without
// sockets: the client message rate limit, and the periodic liveness check (heartbeat pings, silent
// clients, writes that stall).

#include <cstdint>

namespace tickgate::gateway {

/// A token bucket of `rate` client messages per second, bursts of 2 × rate. A client that keeps
/// sending into an empty bucket is not listening to its rate_limited errors, and is to be closed:
/// after one second's worth of refusals in a row (a burst), or when, within a window of
/// kRateWindowNs, it was refused more than one second's worth and more often than it was allowed
/// (sustained: a refill token now and then must not clear the record, as it clears the burst's).
class RateLimiter {
public:
    enum class Verdict { allowed, refused, exceeded };

    RateLimiter(std::uint32_t rate, std::int64_t now_ns)
        : rate_(rate), tokens_(2.0 * rate), refilled_ns_(now_ns), window_start_ns_(now_ns) {}

    static constexpr std::int64_t kRateWindowNs = 2'000'000'000;

    Verdict take(std::int64_t now_ns);
    std::uint32_t rate() const noexcept { return rate_; }

private:
    std::uint32_t rate_;
    double tokens_;
    std::int64_t refilled_ns_;
    std::uint32_t strikes_ = 0;
    std::int64_t window_start_ns_ = 0;
    std::uint32_t window_allowed_ = 0;
    std::uint32_t window_refused_ = 0;
};

/// What a session's periodic check calls for, in order of precedence.
enum class SweepAction { none, ping, close_heartbeat_timeout, close_slow_consumer };

/// When a session was last heard from, last pinged, and whether a write has been stuck.
struct LivenessState {
    std::int64_t last_activity_ns = 0;
    std::int64_t last_ping_ns = 0;
    bool write_in_flight = false;
    std::int64_t inflight_queued_since_ns = 0;  // when the oldest byte of the write in flight was queued
};

struct LivenessPolicy {
    std::int64_t heartbeat_ns = 0;
    std::int64_t slow_timeout_ns = 0;
    /// Heartbeat intervals without a word from the client before it is closed: 3 for v1; 2 for
    /// Engine.IO, whose pong is due within pingTimeout (= heartbeat) of a ping sent every pingInterval.
    int silent_heartbeats = 3;

    /// `may_ping` is false for a session that must carry nothing but its own traffic (an upgrade probe).
    SweepAction check(const LivenessState& s, std::int64_t now_ns, bool may_ping) const noexcept;
};

}  // namespace tickgate::gateway
