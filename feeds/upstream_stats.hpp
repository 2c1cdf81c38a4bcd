#pragma once
// What a network feed (the NATS subscriber) reports about its upstream, read by the gateway's
// /metrics. Counters have one writer, the feed's thread, except `connected` and `reconnects`,
// which the client library's callback thread sets.

#include <array>
#include <atomic>
#include <cstdint>

namespace tickgate::feeds {

/// A counter with one writer thread: relaxed load and store, no locked instruction.
class FeedCounter {
public:
    void add(std::uint64_t n = 1) noexcept { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> v_{0};
};

/// Upper bounds of tickgate_upstream_latency_seconds: the fan-out histogram's, 10 µs to 1 s, so
/// the two compare bucket for bucket.
inline constexpr std::array<double, 16> kUpstreamLatencyBucketsSeconds = {
    10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1.0};

struct UpstreamStats {
    std::atomic<bool> connected{false};
    std::atomic<std::uint64_t> reconnects{0};
    FeedCounter messages;          // received, live or loaded from the store
    FeedCounter decode_errors;     // not a valid bus record or subject: skipped
    FeedCounter duplicates;        // seq not above the topic's last: skipped (replays, reloads)
    FeedCounter topic_limit_drops; // a topic beyond --max-topics: skipped
    FeedCounter loaded;            // latest values taken from JetStream at (re)connect
    // Publisher ts to ring insert, live messages only; buckets not cumulative, last is +Inf.
    std::array<FeedCounter, kUpstreamLatencyBucketsSeconds.size() + 1> latency_buckets;
    FeedCounter latency_sum_ns;

    void observe_latency_ns(std::int64_t ns) noexcept {
        if (ns < 0) ns = 0;  // clocks of two processes: never a negative observation
        const double s = static_cast<double>(ns) * 1e-9;
        std::size_t i = 0;
        while (i < kUpstreamLatencyBucketsSeconds.size() && s > kUpstreamLatencyBucketsSeconds[i]) ++i;
        latency_buckets[i].add();
        latency_sum_ns.add(static_cast<std::uint64_t>(ns));
    }
};

}  // namespace tickgate::feeds
