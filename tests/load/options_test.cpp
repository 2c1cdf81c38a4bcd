#include "bench/load/options.hpp"
#include "bench/load/proc_stat.hpp"
#include "bench/load/topic_choice.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

namespace tickgate::load {
namespace {

ParseResult parse(std::vector<const char*> args) {
    args.insert(args.begin(), "tickgate-load");
    return parse_command_line(static_cast<int>(args.size()), const_cast<char**>(args.data()));
}

TEST(Options, DefaultsAndDerivedValues) {
    const auto r = parse({"--connections", "1200", "--threads", "2"});
    ASSERT_FALSE(r.exit_code) << r.text;
    EXPECT_TRUE(r.options.url.tls);
    EXPECT_EQ(r.options.url.port, 8443);
    EXPECT_EQ(r.options.url.target, "/ws");
    EXPECT_EQ(r.options.sources, 3u);  // one per 500 connections
}

TEST(Options, LatencyFromIsAPlainFieldName) {
    EXPECT_TRUE(parse({}).options.latency_from.empty());
    const auto r = parse({"--latency-from", "sent_ns"});
    ASSERT_FALSE(r.exit_code) << r.text;
    EXPECT_EQ(r.options.latency_from, "sent_ns");
    EXPECT_TRUE(parse({"--latency-from", "ts"}).options.latency_from.empty()) << "ts is the default";
    const auto bad = parse({"--latency-from", "sent\"ns"});
    ASSERT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.text.find("--latency-from"), std::string::npos) << bad.text;
}

TEST(Options, ParsesEveryKindOfFlag) {
    const auto r = parse({"--url", "ws://localhost:9000/x?y=1", "--topics", "ticker.A-B,ticker.*", "-k", "2",
                          "--slow-fraction", "0.05", "--slow-mode", "rate:20000", "--pid", "10", "--pid", "11",
                          "--subscribe-via", "query", "--distribution", "zipf:1.2"});
    ASSERT_FALSE(r.exit_code) << r.text;
    const auto& o = r.options;
    EXPECT_FALSE(o.url.tls);
    EXPECT_EQ(o.url.host, "localhost");
    EXPECT_EQ(o.url.target, "/x?y=1");
    EXPECT_EQ(o.topics, (std::vector<std::string>{"ticker.A-B", "ticker.*"}));
    EXPECT_EQ(o.slow_mode, SlowMode::rate);
    EXPECT_DOUBLE_EQ(o.slow_rate, 20000);
    EXPECT_EQ(o.pids, (std::vector<int>{10, 11}));
    EXPECT_EQ(o.subscribe_via, SubscribeVia::query);
}

TEST(Options, SocketIoDefaultsItsPathAndNeedsTopics) {
    EXPECT_EQ(parse({"--protocol", "socketio"}).exit_code, 2);
    const auto r = parse({"--protocol", "socketio", "--url", "wss://127.0.0.1:9443", "--topics", "ticker.A-B"});
    ASSERT_FALSE(r.exit_code) << r.text;
    EXPECT_EQ(r.options.url.target, "/");  // an explicit --url is kept as given
    const auto d = parse({"--protocol", "socketio", "--topics", "ticker.A-B"});
    EXPECT_EQ(d.options.url.target, "/socket.io/?EIO=4&transport=websocket");
}

TEST(Options, BadValuesExitTwoWithAReason) {
    for (auto args : std::vector<std::vector<const char*>>{{"--url", "http://x"}, {"--slow-fraction", "0.5"},
                                                           {"--slow-mode", "crawl"}, {"--connections", "0"},
                                                           {"--bogus"}, {"--distribution", "pareto"}}) {
        const auto r = parse(args);
        EXPECT_EQ(r.exit_code, 2) << args[0];
        EXPECT_FALSE(r.text.empty());
    }
    EXPECT_EQ(parse({"--help"}).exit_code, 0);
}

TEST(Options, DrawGroupsArePatternEqualsCount) {
    const auto r = parse({"--draw", "book.*=2", "--draw", "trade.*=1"});
    ASSERT_FALSE(r.exit_code) << r.text;
    ASSERT_EQ(r.options.draws.size(), 2u);
    EXPECT_EQ(r.options.draws[0].pattern, "book.*");
    EXPECT_EQ(r.options.draws[0].k, 2u);
    EXPECT_EQ(r.options.draws[1].pattern, "trade.*");
    for (const char* bad : {"book.*", "book.*=0", "book.*=x", "=2", "book.*=2x"}) EXPECT_EQ(parse({"--draw", bad}).exit_code, 2) << bad;
}

TEST(TopicChoice, PatternsMatchWholeSegments) {
    EXPECT_TRUE(pattern_matches("book.*", "book.BTC-USD"));
    EXPECT_FALSE(pattern_matches("book.*", "book50.BTC-USD"));
    EXPECT_TRUE(pattern_matches("*.BTC-USD", "trade.BTC-USD"));
    EXPECT_FALSE(pattern_matches("*.BTC-USD", "trade.BTC-EUR"));
    EXPECT_TRUE(pattern_matches("ticker.ETH-USD", "ticker.ETH-USD"));
    EXPECT_FALSE(pattern_matches("ticker", "ticker.ETH-USD"));
    EXPECT_FALSE(pattern_matches("ticker.*.x", "ticker.ETH-USD"));
}

TEST(TopicChoice, GroupsDrawTheirCountFromTheirOwnTopics) {
    std::vector<std::string> topics;
    for (const char* channel : {"ticker", "book", "book50", "trade"})
        for (int i = 0; i < 20; ++i) topics.push_back(std::string(channel) + ".S" + std::to_string(i) + "-USD");
    std::string error;
    const auto c = choose_grouped(topics, 500, {{"book.*", 2}, {"trade.*", 2}, {"ticker.*", 2}}, "uniform", 1, error);
    ASSERT_EQ(c.size(), 500u) << error;
    std::set<std::uint32_t> seen;
    bool correlated = true;  // the groups must not all draw the same symbols
    for (const auto& conn : c) {
        ASSERT_EQ(conn.size(), 6u);
        EXPECT_TRUE(topics[conn[0]].starts_with("book.") && topics[conn[1]].starts_with("book."));
        EXPECT_TRUE(topics[conn[2]].starts_with("trade.") && topics[conn[3]].starts_with("trade."));
        EXPECT_TRUE(topics[conn[4]].starts_with("ticker.") && topics[conn[5]].starts_with("ticker."));
        EXPECT_NE(conn[0], conn[1]);
        correlated = correlated && topics[conn[0]].substr(5) == topics[conn[2]].substr(6);
        seen.insert(conn.begin(), conn.end());
    }
    EXPECT_FALSE(correlated);
    EXPECT_EQ(seen.size(), 60u);  // every book, trade and ticker topic drawn by someone; no book50
    EXPECT_TRUE(choose_grouped(topics, 5, {{"candle.*", 1}}, "uniform", 1, error).empty());
    EXPECT_NE(error.find("candle.*"), std::string::npos);
}

TEST(TopicChoice, UniformGivesDistinctTopicsSpreadEvenly) {
    const auto c = choose_topics(100, 1000, 10, "uniform", 1);
    ASSERT_EQ(c.size(), 1000u);
    std::vector<int> hits(100);
    for (const auto& conn : c) {
        ASSERT_EQ(conn.size(), 10u);
        EXPECT_EQ(std::set<std::uint32_t>(conn.begin(), conn.end()).size(), 10u);
        for (auto t : conn) ++hits[t];
    }
    EXPECT_GT(*std::min_element(hits.begin(), hits.end()), 50);  // expected 100 each
    EXPECT_LT(*std::max_element(hits.begin(), hits.end()), 150);
}

TEST(TopicChoice, ZipfFavoursTheHead) {
    const auto c = choose_topics(100, 1000, 1, "zipf", 1);
    std::vector<int> hits(100);
    for (const auto& conn : c) ++hits[conn[0]];
    EXPECT_GT(hits[0], hits[9] * 5);
    EXPECT_TRUE(choose_topics(100, 1, 1, "zipf:x", 1).empty());
    EXPECT_EQ(choose_topics(5, 2, 10, "uniform", 1)[0].size(), 5u);  // k beyond the list: all of it
}

TEST(TopicChoice, SlowConnectionsAreExactlyTheFraction) {
    int slow = 0;
    for (std::size_t i = 0; i < 1000; ++i) slow += is_slow(i, 0.05);
    EXPECT_EQ(slow, 50);
    EXPECT_FALSE(is_slow(0, 0.0));
}

TEST(ProcStat, ParsesTicksAfterACommWithSpaces) {
    const auto s = parse_proc_stat("42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0");
    ASSERT_TRUE(s);
    EXPECT_GT(s->user_s, s->sys_s);
    EXPECT_DOUBLE_EQ(s->user_s / s->sys_s, 5.0);
    EXPECT_TRUE(read_proc_sample("/proc/self"));
    EXPECT_GT(read_proc_sample("/proc/self")->rss_kib, 0);
    EXPECT_FALSE(read_proc_sample("/proc/999999999"));
}

}  // namespace
}  // namespace tickgate::load
