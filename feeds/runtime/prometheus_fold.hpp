#pragma once
// The scrape side of counters.hpp: totals read from single-writer counters are folded into
// prometheus-cpp's registry, which both programs serialize the same way. prometheus-cpp is only
// named here, so the hot-path headers never include it.

#include <cstdint>
#include <string>
#include <vector>

#include "feeds/runtime/counters.hpp"

namespace prometheus {
class Counter;
class Histogram;
class Registry;
}  // namespace prometheus

namespace tickgate::runtime {

/// Raises `counter` to `total` (a Prometheus counter only goes up; a lower total is ignored).
void set_total(prometheus::Counter& counter, double total);

/// kLatencyBucketsSeconds as prometheus-cpp's BucketBoundaries.
std::vector<double> latency_bucket_boundaries();

/// Keeps what a histogram was last folded at, so each scrape adds only the observations since.
class HistogramFold {
public:
    /// buckets and sum_ns: a LatencyHistogram's (or the sum of several) at this scrape.
    void fold(prometheus::Histogram& histogram, const LatencyHistogram::Buckets& buckets, std::uint64_t sum_ns);

private:
    LatencyHistogram::Buckets folded_{};
    std::uint64_t folded_sum_ns_ = 0;
};

/// Everything in `registry` in the Prometheus text exposition format.
std::string text_exposition(const prometheus::Registry& registry);

}  // namespace tickgate::runtime
