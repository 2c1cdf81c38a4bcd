#include "bench/load/histogram.hpp"

#include <algorithm>
#include <cmath>

namespace tickgate::load {

void Histogram::merge(const Histogram& other) noexcept {
    if (other.count_ == 0) return;
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
    count_ += other.count_;
    sum_ += other.sum_;
    negatives_ += other.negatives_;
}

std::int64_t Histogram::quantile(double q) const noexcept {
    if (count_ == 0) return 0;
    q = std::clamp(q, 0.0, 1.0);
    const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_))));
    std::uint64_t seen = 0;
    for (int b = 0; b < kBuckets; ++b) {
        seen += counts_[static_cast<std::size_t>(b)];
        if (seen >= rank) {
            const auto mid = static_cast<std::int64_t>(bucket_low(b) + bucket_width(b) / 2);
            return std::clamp(mid, min_, max_);
        }
    }
    return max_;
}

}  // namespace tickgate::load
