#include "bench/load/result.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace tickgate::load {
namespace {

Result sample_result() {
    Result r;
    r.options.connections = 4;
    r.options.label = "fanout";
    r.options.pids = {123};
    r.options.topics = {"ticker.BTC-USD"};
    r.started_at = "2025-01-01T00:00:00Z";
    r.window_s = 2.0;
    r.slow_connections = 1;
    auto& t = r.totals;
    for (int i = 1; i <= 1000; ++i) t.latency[kNormal].record(i * 1000);
    t.latency[kSlow].record(5'000'000);
    t.delivered[kNormal] = 1000;
    t.delivered[kSlow] = 1;
    t.bytes[kNormal] = 300'000;
    t.established = 4;
    t.open = 3;
    t.failures.http_status[503] = 2;
    t.disconnects[1008] = 1;
    t.seq[kSlow].gaps = 2;
    t.seq[kSlow].missing = 7;
    t.delivered_books[kNormal] = 600;
    t.delivered_trades[kNormal] = 100;
    t.books[kNormal].messages = 610;
    t.books[kNormal].snapshots = 10;
    t.books[kSlow].messages = 20;
    t.books[kSlow].chain_breaks = 1;
    t.books[kSlow].checksum_failures = 2;
    t.books50[kSlow].checksum_failures = 1;
    t.trades[kNormal].updates = 100;
    t.trades[kSlow].updates = 5;
    t.trades[kSlow].gaps = 3;
    r.options.draws = {{"book.*", 2}, {"trade.*", 2}};
    r.targets.push_back({123, "tickgate", 0.6, 0.4, 1000, 4000, 4100, false});
    r.self_user_s = 0.5;
    r.threads.push_back({0.5, 0.25});
    r.warnings.push_back("a warning");
    return r;
}

TEST(ResultJson, ParsesBackWithEveryFigure) {
    const auto text = to_json(sample_result());
    rapidjson::Document d;
    d.Parse(text.c_str());
    ASSERT_FALSE(d.HasParseError()) << text;
    EXPECT_STREQ(d["tool"].GetString(), "tickgate-load");
    EXPECT_TRUE(d["ok"].GetBool());
    EXPECT_STREQ(d["label"].GetString(), "fanout");
    EXPECT_EQ(d["parameters"]["connections"].GetUint64(), 4u);
    EXPECT_STREQ(d["parameters"]["protocol"].GetString(), "v1");
    EXPECT_EQ(d["parameters"]["pids"][0].GetInt(), 123);
    EXPECT_DOUBLE_EQ(d["window_s"].GetDouble(), 2.0);

    const auto& c = d["connections"];
    EXPECT_EQ(c["established"].GetUint64(), 4u);
    EXPECT_EQ(c["open_at_end"].GetUint64(), 3u);
    EXPECT_EQ(c["failures"]["total"].GetUint64(), 2u);
    EXPECT_EQ(c["failures"]["http_status"]["503"].GetUint64(), 2u);
    EXPECT_EQ(c["disconnects"]["by_code"]["1008"].GetUint64(), 1u);
    EXPECT_TRUE(c["handshake"].HasMember("p99_ms"));

    EXPECT_EQ(d["messages"]["delivered"].GetUint64(), 1001u);
    EXPECT_DOUBLE_EQ(d["messages"]["per_s"].GetDouble(), 500.5);
    const auto& normal = d["latency"]["normal"];
    EXPECT_EQ(normal["count"].GetUint64(), 1000u);
    EXPECT_NEAR(normal["p50_ms"].GetDouble(), 0.5, 0.005);
    EXPECT_NEAR(normal["p99_ms"].GetDouble(), 0.99, 0.01);
    EXPECT_NEAR(normal["p999_ms"].GetDouble(), 0.999, 0.01);
    EXPECT_DOUBLE_EQ(normal["max_ms"].GetDouble(), 1.0);
    EXPECT_EQ(d["latency"]["slow"]["count"].GetUint64(), 1u);
    EXPECT_EQ(d["latency"]["all"]["count"].GetUint64(), 1001u);
    EXPECT_EQ(d["seq"]["slow"]["missing"].GetUint64(), 7u);
    EXPECT_EQ(d["seq"]["all"]["gaps"].GetUint64(), 2u);
    EXPECT_EQ(d["seq"]["normal"]["gaps"].GetUint64(), 0u);
    EXPECT_EQ(d["messages"]["delivered_book_deltas"].GetUint64(), 600u);
    EXPECT_EQ(d["messages"]["delivered_trades"].GetUint64(), 100u);
    EXPECT_EQ(d["messages"]["delivered_tickers"].GetUint64(), 301u);
    EXPECT_EQ(d["books"]["normal"]["messages"].GetUint64(), 610u);
    EXPECT_EQ(d["books"]["normal"]["snapshots"].GetUint64(), 10u);
    EXPECT_EQ(d["books"]["normal"]["chain_breaks"].GetUint64(), 0u);
    EXPECT_EQ(d["books"]["slow"]["chain_breaks"].GetUint64(), 1u);
    EXPECT_EQ(d["books"]["all"]["messages"].GetUint64(), 630u);
    EXPECT_EQ(d["books"]["all"]["checksum_failures"].GetUint64(), 2u);
    EXPECT_EQ(d["books"]["slow"]["book50"]["checksum_failures"].GetUint64(), 1u);
    EXPECT_EQ(d["books"]["all"]["book50"]["checksum_failures"].GetUint64(), 1u);
    for (const char* k : {"unverified", "malformed", "depth_exceeded"}) EXPECT_TRUE(d["books"]["all"].HasMember(k)) << k;
    EXPECT_EQ(d["trades"]["normal"]["messages"].GetUint64(), 100u);
    EXPECT_EQ(d["trades"]["slow"]["gaps"].GetUint64(), 3u);
    EXPECT_EQ(d["trades"]["all"]["messages"].GetUint64(), 105u);
    EXPECT_STREQ(d["parameters"]["draw"][1].GetString(), "trade.*=2");

    EXPECT_STREQ(d["targets"][0]["name"].GetString(), "tickgate");
    EXPECT_DOUBLE_EQ(d["targets"][0]["cpu_s"].GetDouble(), 1.0);
    EXPECT_NEAR(d["targets_total"]["cpu_us_per_message"].GetDouble(), 1e6 / 1001, 1e-6);
    EXPECT_NEAR(d["targets_total"]["rss_kib_per_connection"].GetDouble(), 4000.0 / 3, 1e-9);
    EXPECT_NEAR(d["targets_total"]["rss_added_kib_per_connection"].GetDouble(), 1000.0, 1e-9);
    EXPECT_FALSE(d["self"]["saturated"].GetBool());
    EXPECT_EQ(d["warnings"].Size(), 1u);
}

TEST(ResultJson, AFailedRunSaysWhy) {
    Result r;
    r.ok = false;
    r.error = "no connection could be established (3 failed)";
    rapidjson::Document d;
    d.Parse(to_json(r).c_str());
    ASSERT_FALSE(d.HasParseError());
    EXPECT_FALSE(d["ok"].GetBool());
    EXPECT_STREQ(d["error"].GetString(), r.error.c_str());
    EXPECT_EQ(d["messages"]["delivered"].GetUint64(), 0u);
}

TEST(Summary, NamesTheKeyFigures) {
    const auto text = summary(sample_result());
    EXPECT_NE(text.find("msgs/s"), std::string::npos);
    EXPECT_NE(text.find("p99"), std::string::npos);
    EXPECT_NE(text.find("slow"), std::string::npos);
    EXPECT_NE(text.find("pid 123 (tickgate)"), std::string::npos);
    EXPECT_NE(text.find("warning: a warning"), std::string::npos);
    EXPECT_NE(text.find("chain breaks 1, checksum failures 2"), std::string::npos) << text;
    EXPECT_NE(text.find("trades slow   5 msgs: gaps 3"), std::string::npos) << text;
}

}  // namespace
}  // namespace tickgate::load
