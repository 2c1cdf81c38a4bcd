#include <gtest/gtest.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "feeds/runtime/command_line.hpp"
#include "feeds/runtime/counters.hpp"
#include "feeds/runtime/prometheus_fold.hpp"

namespace tickgate::runtime {
namespace {

TEST(LatencyHistogram, BucketsByUpperBoundAndCountsNegativeAsZero) {
    LatencyHistogram h;
    h.observe_ns(10'000);         // exactly 10 µs: the first bucket (le="1e-05")
    h.observe_ns(10'001);         // just over: the second
    h.observe_ns(-5);             // two processes' clocks: 0
    h.observe_ns(2'000'000'000);  // past 1 s: +Inf
    const auto b = h.buckets();
    EXPECT_EQ(b[0], 2u);
    EXPECT_EQ(b[1], 1u);
    EXPECT_EQ(b.back(), 1u);
    EXPECT_EQ(h.sum_ns(), 2'000'020'001u);
}

TEST(HistogramFold, EachScrapeAddsOnlyWhatIsNew) {
    prometheus::Registry registry;
    auto& histogram = prometheus::BuildHistogram().Name("t_seconds").Help("t").Register(registry).Add(
        {}, latency_bucket_boundaries());
    LatencyHistogram h;
    HistogramFold fold;
    h.observe_ns(20'000);
    fold.fold(histogram, h.buckets(), h.sum_ns());
    fold.fold(histogram, h.buckets(), h.sum_ns());  // nothing new: nothing added
    h.observe_ns(20'000);
    fold.fold(histogram, h.buckets(), h.sum_ns());
    const auto text = text_exposition(registry);
    EXPECT_NE(text.find("t_seconds_count 2\n"), std::string::npos) << text;
    EXPECT_NE(text.find("t_seconds_bucket{le=\"2.5e-05\"} 2\n"), std::string::npos) << text;
}

TEST(LogLevelFlag, OnlyTheFourNamesPass) {
    for (const char* ok : {"debug", "info", "warn", "error"}) EXPECT_FALSE(validate_log_level(ok)) << ok;
    EXPECT_EQ(validate_log_level("loud"), "--log-level must be debug, info, warn or error");
}

}  // namespace
}  // namespace tickgate::runtime
