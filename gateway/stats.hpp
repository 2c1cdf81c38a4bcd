#pragma once
// Hot-path counters. Each block is written by one thread only (a worker, or the engine) with plain
// relaxed loads and stores, so counting costs no locked instruction and no shared cache line; the
// metrics scrape reads them from another thread and folds them into the Prometheus registry.

#include <array>
#include <atomic>
#include <cstdint>

#include "protocol/errors.hpp"

namespace tickgate::gateway {

/// A counter with one writer thread. Readers on other threads see a recent value.
class OwnedCounter {
public:
    void add(std::uint64_t n = 1) noexcept { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> v_{0};
};

/// A gauge with one writer thread.
class OwnedGauge {
public:
    void add(std::int64_t n) noexcept { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    std::int64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::int64_t> v_{0};
};

/// Upper bounds of tickgate_fanout_latency_seconds, 10 µs to 1 s.
inline constexpr std::array<double, 16> kLatencyBucketsSeconds = {
    10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1.0};

class LatencyHistogram {
public:
    void observe_ns(std::int64_t ns) noexcept;
    /// Bucket counts (not cumulative; the last is +Inf) and the sum in ns.
    std::array<std::uint64_t, kLatencyBucketsSeconds.size() + 1> buckets() const noexcept;
    std::uint64_t sum_ns() const noexcept { return sum_ns_.get(); }

private:
    std::array<OwnedCounter, kLatencyBucketsSeconds.size() + 1> buckets_;
    OwnedCounter sum_ns_;
};

inline constexpr std::size_t kErrorCodeCount = 4;

struct alignas(64) WorkerStats {
    OwnedGauge sessions;
    OwnedGauge subscriptions;
    OwnedGauge socketio_sessions;     // of `sessions`, those speaking Socket.IO
    OwnedCounter socketio_messages_sent;
    OwnedCounter socketio_malformed;  // sessions closed for a malformed Engine.IO/Socket.IO packet
    OwnedCounter messages_sent;
    OwnedCounter bytes_sent;
    OwnedCounter messages_conflated;
    OwnedCounter slow_consumer_disconnects;
    OwnedCounter heartbeat_timeouts;
    OwnedCounter updates_skipped_behind;  // superseded before this worker could fan them out
    std::array<OwnedCounter, kErrorCodeCount> client_errors;  // indexed by protocol::ErrorCode
    LatencyHistogram fanout_latency;

    void client_error(protocol::ErrorCode code) noexcept { client_errors[static_cast<std::size_t>(code)].add(); }
};

}  // namespace tickgate::gateway
