#include "feeds/runtime/prometheus_fold.hpp"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <sstream>

namespace tickgate::runtime {

void set_total(prometheus::Counter& counter, double total) {
    const double delta = total - counter.Value();
    if (delta > 0) counter.Increment(delta);
}

std::vector<double> latency_bucket_boundaries() {
    return {kLatencyBucketsSeconds.begin(), kLatencyBucketsSeconds.end()};
}

void HistogramFold::fold(prometheus::Histogram& histogram, const LatencyHistogram::Buckets& buckets,
                         std::uint64_t sum_ns) {
    std::vector<double> increments(buckets.size());
    for (std::size_t i = 0; i < buckets.size(); ++i) {
        increments[i] = static_cast<double>(buckets[i] - folded_[i]);
        folded_[i] = buckets[i];
    }
    histogram.ObserveMultiple(increments, static_cast<double>(sum_ns - folded_sum_ns_) * 1e-9);
    folded_sum_ns_ = sum_ns;
}

std::string text_exposition(const prometheus::Registry& registry) {
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, registry.Collect());
    return out.str();
}

}  // namespace tickgate::runtime
