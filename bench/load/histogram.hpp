#pragma once
// A log-bucketed latency histogram in the manner of HdrHistogram: exact below 256, then 128 linear
// sub-buckets per power of two, so any recorded value is known to within 1/256 (0.4%) of itself.
// Fixed size (about 58 KiB), no allocation when recording; one per thread, merged at the end.

#include <array>
#include <cstdint>

namespace tickgate::load {

class Histogram {
public:
    static constexpr int kSubBits = 7;                          // 128 sub-buckets per octave
    static constexpr int kLinear = 2 << kSubBits;               // values below 256 have their own bucket
    static constexpr int kBuckets = (63 - kSubBits) * (1 << kSubBits) + kLinear;

    /// Records one value (ns, or any non-negative integer); negative values count as 0 and are
    /// counted in negatives() (a clock that went backwards, or a peer's clock ahead of ours).
    void record(std::int64_t value) noexcept {
        if (value < 0) {
            ++negatives_;
            value = 0;
        }
        ++counts_[static_cast<std::size_t>(bucket_of(static_cast<std::uint64_t>(value)))];
        ++count_;
        sum_ += static_cast<std::uint64_t>(value);
        if (value > max_) max_ = value;
        if (count_ == 1 || value < min_) min_ = value;
    }

    void merge(const Histogram& other) noexcept;
    void reset() noexcept { *this = Histogram{}; }

    /// The value at quantile q in [0, 1]: the middle of the bucket holding the ceil(q*count)-th
    /// smallest value, clamped to [min, max]. 0 when empty.
    std::int64_t quantile(double q) const noexcept;

    std::uint64_t count() const noexcept { return count_; }
    std::uint64_t negatives() const noexcept { return negatives_; }
    std::int64_t max() const noexcept { return max_; }
    std::int64_t min() const noexcept { return min_; }
    double mean() const noexcept { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }

    static int bucket_of(std::uint64_t v) noexcept {
        if (v < static_cast<std::uint64_t>(kLinear)) return static_cast<int>(v);
        const int msb = 63 - __builtin_clzll(v);  // >= 8
        const int shift = msb - kSubBits;
        return (shift << kSubBits) + static_cast<int>(v >> shift);
    }
    /// Lowest value and width of bucket `b`.
    static std::uint64_t bucket_low(int b) noexcept {
        if (b < kLinear) return static_cast<std::uint64_t>(b);
        const int shift = (b >> kSubBits) - 1;
        return static_cast<std::uint64_t>((b & ((1 << kSubBits) - 1)) + (1 << kSubBits)) << shift;
    }
    static std::uint64_t bucket_width(int b) noexcept { return b < kLinear ? 1 : std::uint64_t{1} << ((b >> kSubBits) - 1); }

private:
    std::array<std::uint64_t, kBuckets> counts_{};
    std::uint64_t count_ = 0;
    std::uint64_t sum_ = 0;
    std::uint64_t negatives_ = 0;
    std::int64_t max_ = 0;
    std::int64_t min_ = 0;
};

}  // namespace tickgate::load
