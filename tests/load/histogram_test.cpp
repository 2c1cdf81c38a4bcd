#include "bench/load/histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace tickgate::load {
namespace {

std::int64_t exact_quantile(std::vector<std::int64_t> v, double q) {
    std::sort(v.begin(), v.end());
    const auto rank = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))));
    return v[rank - 1];
}

void expect_within_one_percent(const std::vector<std::int64_t>& values) {
    Histogram h;
    for (auto v : values) h.record(v);
    for (double q : {0.0, 0.5, 0.9, 0.99, 0.999, 1.0}) {
        const auto exact = static_cast<double>(exact_quantile(values, q));
        const auto got = static_cast<double>(h.quantile(q));
        EXPECT_LE(std::abs(got - exact), 0.01 * exact + 0.5) << "q=" << q << " exact=" << exact << " got=" << got;
    }
    EXPECT_EQ(h.max(), *std::max_element(values.begin(), values.end()));
    EXPECT_EQ(h.min(), *std::min_element(values.begin(), values.end()));
    EXPECT_EQ(h.count(), values.size());
}

TEST(Histogram, QuantilesWithinOnePercentOnLogNormalLatencies) {
    std::mt19937_64 rng(42);
    std::lognormal_distribution<double> d(std::log(300'000.0), 1.0);  // ~0.3 ms median, long tail
    std::vector<std::int64_t> v(200'000);
    for (auto& x : v) x = static_cast<std::int64_t>(d(rng));
    expect_within_one_percent(v);
}

TEST(Histogram, QuantilesWithinOnePercentOnUniformWideRange) {
    std::mt19937_64 rng(7);
    std::uniform_int_distribution<std::int64_t> d(0, 10'000'000'000LL);
    std::vector<std::int64_t> v(100'000);
    for (auto& x : v) x = d(rng);
    expect_within_one_percent(v);
}

TEST(Histogram, SmallValuesAreExact) {
    Histogram h;
    for (int i = 0; i < 256; ++i) h.record(i);
    EXPECT_EQ(h.quantile(0.5), 127);
    EXPECT_EQ(h.quantile(1.0), 255);
}

TEST(Histogram, BucketsAreContiguousAndBounded) {
    for (int b = 1; b < Histogram::kBuckets - 1; ++b) {
        if (Histogram::bucket_low(b) == 0) break;
        ASSERT_EQ(Histogram::bucket_low(b - 1) + Histogram::bucket_width(b - 1), Histogram::bucket_low(b)) << b;
        ASSERT_EQ(Histogram::bucket_of(Histogram::bucket_low(b)), b);
        if (b >= Histogram::kLinear) {
            ASSERT_LE(static_cast<double>(Histogram::bucket_width(b)), Histogram::bucket_low(b) / 128.0);
        }
        if (Histogram::bucket_low(b) > (std::uint64_t{1} << 62)) break;
    }
    EXPECT_LT(Histogram::bucket_of(~std::uint64_t{0} >> 1), Histogram::kBuckets);
}

TEST(Histogram, NegativeValuesCountAsZero) {
    Histogram h;
    h.record(-5);
    h.record(10);
    EXPECT_EQ(h.negatives(), 1u);
    EXPECT_EQ(h.min(), 0);
    EXPECT_EQ(h.quantile(0.0), 0);
}

TEST(Histogram, MergeEqualsRecordingEverything) {
    Histogram a, b, all;
    for (int i = 0; i < 1000; ++i) {
        (i % 2 ? a : b).record(i * 1000);
        all.record(i * 1000);
    }
    a.merge(b);
    EXPECT_EQ(a.count(), all.count());
    EXPECT_EQ(a.quantile(0.99), all.quantile(0.99));
    EXPECT_EQ(a.max(), all.max());
    EXPECT_EQ(a.min(), all.min());
}

TEST(Histogram, EmptyReportsZero) {
    Histogram h;
    EXPECT_EQ(h.quantile(0.99), 0);
    EXPECT_EQ(h.count(), 0u);
}

}  // namespace
}  // namespace tickgate::load
