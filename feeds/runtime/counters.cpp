#include "feeds/runtime/counters.hpp"

namespace tickgate::runtime {

void LatencyHistogram::observe_ns(std::int64_t ns) noexcept {
    if (ns < 0) ns = 0;
    const double seconds = static_cast<double>(ns) * 1e-9;
    std::size_t i = 0;
    while (i < kLatencyBucketsSeconds.size() && seconds > kLatencyBucketsSeconds[i]) ++i;
    buckets_[i].add();
    sum_ns_.add(static_cast<std::uint64_t>(ns));
}

LatencyHistogram::Buckets LatencyHistogram::buckets() const noexcept {
    Buckets out{};
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = buckets_[i].get();
    return out;
}

}  // namespace tickgate::runtime
