#pragma once
// Hot-path counters for both programs. Each one has a single writer thread (a worker, the engine,
// a feed) that counts with plain relaxed loads and stores: no locked instruction, no shared cache
// line. The metrics scrape reads them from another thread and folds the totals into prometheus-cpp's
// registry (prometheus_fold.hpp), so prometheus-cpp's own atomics stay off the hot path.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace tickgate::runtime {

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

/// Upper bounds of every latency histogram (fan-out, its stages, upstream), 10 µs to 1 s, so any
/// two compare bucket for bucket. Finest around the fan-out targets (p99 1 ms, p99.9 3 ms).
inline constexpr std::array<double, 19> kLatencyBucketsSeconds = {
    10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 750e-6, 1e-3, 1.5e-3, 2e-3, 3e-3,
    5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1.0};

/// A latency histogram with one writer thread.
class LatencyHistogram {
public:
    /// Not cumulative; the last is +Inf.
    using Buckets = std::array<std::uint64_t, kLatencyBucketsSeconds.size() + 1>;

    /// A negative latency (the clocks of two processes) counts as 0.
    void observe_ns(std::int64_t ns) noexcept;
    Buckets buckets() const noexcept;
    std::uint64_t sum_ns() const noexcept { return sum_ns_.get(); }

private:
    std::array<OwnedCounter, kLatencyBucketsSeconds.size() + 1> buckets_;
    OwnedCounter sum_ns_;
};

}  // namespace tickgate::runtime
