#include "feeds/replay_feed.hpp"

#include <gtest/gtest.h>

#include "tests/feeds/temp_file.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "feeds/runtime/clock.hpp"

namespace tickgate::feeds {
namespace {

using namespace std::chrono_literals;

std::string line(const std::string& topic, std::int64_t ts_ms, const std::string& bid = "100.50",
                 const std::string& size = "1.5") {
    return R"({"type":"ticker","topic":")" + topic + R"(","seq":999,"ts":)" + std::to_string(ts_ms * 1'000'000) +
           R"(,"bid":")" + bid + R"(","bid_size":")" + size + R"(","ask":"101.00","ask_size":"2","last":"100.75",)"
           R"("last_size":"0.25","open_24h":"99","high_24h":"102","low_24h":"98","volume_24h":"1234.5"})";
}

using testing::TempFile;

std::unique_ptr<FeedAdapter> make(const std::string& spec, std::string& error) {
    return make_feed(spec, SimulatorOptions{}, 3, error);
}

// Runs the feed until it ends or has published `max` updates, and returns what it published.
std::vector<protocol::MarketUpdate> run_feed(FeedAdapter& feed, std::size_t max = SIZE_MAX) {
    UpdateChannel ch(1024);
    std::vector<protocol::MarketUpdate> got, batch(64);
    std::atomic<bool> ended{false};
    std::jthread t([&](std::stop_token st) {
        feed.run(st, ch);
        ended = true;
    });
    for (const auto deadline = std::chrono::steady_clock::now() + 5s;
         got.size() < max && std::chrono::steady_clock::now() < deadline;) {
        const bool was_ended = ended;
        const std::size_t n = ch.consume(batch, 10ms);
        got.insert(got.end(), batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(n));
        if (n == 0 && was_ended) break;
    }
    // A batch may carry updates past `max` when the feed was quick (a looping replay): keep `max`.
    if (got.size() > max) got.resize(max);
    return got;
}

TEST(ReplayFeed, ReassignsSeqPerTopicAndStampsNow) {
    TempFile f({line("ticker.BTC-USD", 0), line("ticker.ETH-USD", 0), "", line("ticker.BTC-USD", 0),
                line("ticker.BTC-USD", 0)});
    std::string error;
    auto feed = make("replay:" + f.path(), error);
    ASSERT_TRUE(feed) << error;
    EXPECT_EQ(feed->name(), "replay:" + f.path());
    const auto before = runtime::realtime_ns();
    const auto got = run_feed(*feed);
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got[0].topic(), "ticker.BTC-USD");
    EXPECT_EQ(got[0].seq, 1u);
    EXPECT_EQ(got[1].topic(), "ticker.ETH-USD");
    EXPECT_EQ(got[1].seq, 1u);
    EXPECT_EQ(got[2].seq, 2u);
    EXPECT_EQ(got[3].seq, 3u);
    for (const auto& u : got) {
        EXPECT_GE(u.ts_ns, before) << "ts must be the replay time, not the recorded one";
        EXPECT_EQ(u.feed, 3);
    }
    EXPECT_EQ(got[0].bid, 10050);
    EXPECT_EQ(got[0].volume_24h, 123450);
}

TEST(ReplayFeed, PacesBySpeed) {
    TempFile f({line("ticker.BTC-USD", 1000), line("ticker.BTC-USD", 1100), line("ticker.BTC-USD", 1300)});
    std::string error;
    auto feed = make("replay:" + f.path() + ",speed=2", error);
    ASSERT_TRUE(feed) << error;
    const auto got = run_feed(*feed, 3);
    ASSERT_EQ(got.size(), 3u);
    const double gap1_ms = (got[1].ts_ns - got[0].ts_ns) / 1e6;
    const double gap2_ms = (got[2].ts_ns - got[1].ts_ns) / 1e6;
    EXPECT_NEAR(gap1_ms, 50, 15);
    EXPECT_NEAR(gap2_ms, 100, 15);
}

TEST(ReplayFeed, LoopsWithSeqContinuing) {
    TempFile f({line("ticker.BTC-USD", 0), line("ticker.BTC-USD", 5), line("ticker.ETH-USD", 10)});
    std::string error;
    auto feed = make("replay:" + f.path() + ",loop,speed=1", error);
    ASSERT_TRUE(feed) << error;
    const auto got = run_feed(*feed, 9);
    ASSERT_EQ(got.size(), 9u) << "three laps";
    std::uint64_t btc = 0, eth = 0;
    for (const auto& u : got) {
        if (u.topic() == "ticker.BTC-USD") EXPECT_EQ(u.seq, ++btc);
        else EXPECT_EQ(u.seq, ++eth);
    }
    EXPECT_EQ(btc, 6u);
    EXPECT_EQ(eth, 3u);
}

TEST(ReplayFeed, WithoutLoopRunReturnsAtTheEnd) {
    TempFile f({line("ticker.BTC-USD", 0), line("ticker.BTC-USD", 1)});
    std::string error;
    auto feed = make("replay:" + f.path(), error);
    ASSERT_TRUE(feed) << error;
    UpdateChannel ch(16);
    std::stop_source never;
    const auto t0 = std::chrono::steady_clock::now();
    feed->run(never.get_token(), ch);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
    EXPECT_EQ(ch.depth(), 2u);
}

TEST(ReplayFeed, BadLinesAreReportedWithTheirNumberAndSkipped) {
    TempFile f({
        line("ticker.BTC-USD", 0),
        "{not json",
        "",
        R"({"topic":"ticker.BTC-USD","ts":1})",            // missing fields
        line("Bad Topic", 0),                                // invalid topic
        line("ticker.BTC-USD", 1, "100.505"),               // more decimals than the topic's first line
        line("ticker.BTC-USD", 2, "100.500", "1.50000"),    // rescales exactly: fine
        line("ticker.BTC-USD", 3, "100.5"),                 // fewer decimals: rescaled up
    });
    ::testing::internal::CaptureStderr();
    std::string error;
    auto feed = make("replay:" + f.path(), error);
    const std::string err = ::testing::internal::GetCapturedStderr();
    ASSERT_TRUE(feed) << error;
    const std::string prefix = "tickgate: replay " + f.path() + ":";
    EXPECT_NE(err.find(prefix + "2: "), std::string::npos) << err;
    EXPECT_NE(err.find(prefix + "4: "), std::string::npos) << err;
    EXPECT_NE(err.find(prefix + "5: "), std::string::npos) << err;
    EXPECT_NE(err.find(prefix + "6: "), std::string::npos) << err;
    EXPECT_EQ(err.find(prefix + "1: "), std::string::npos) << err;
    EXPECT_EQ(err.find(prefix + "3: "), std::string::npos) << err;
    EXPECT_EQ(err.find(prefix + "7: "), std::string::npos) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 4) << err;

    const auto got = run_feed(*feed);
    ASSERT_EQ(got.size(), 3u);
    for (const auto& u : got) {
        EXPECT_EQ(u.price_decimals, 2);
        EXPECT_EQ(u.size_decimals, 2);
        EXPECT_EQ(u.bid, 10050);
        EXPECT_EQ(u.bid_size, 150);
    }
    EXPECT_EQ(got[2].seq, 3u) << "skipped lines take no seq";
}

TEST(FeedFactory, ParsesSpecsAndNamesTheProblem) {
    TempFile f({line("ticker.BTC-USD", 0)});
    std::string error;
    EXPECT_TRUE(make("sim", error)) << error;
    EXPECT_TRUE(make("replay:" + f.path() + ",speed=0.5,loop", error)) << error;

    const auto fails = [](const std::string& spec, const std::string& expected) {
        std::string e;
        EXPECT_EQ(make(spec, e), nullptr) << spec;
        EXPECT_NE(e.find(expected), std::string::npos) << spec << " -> " << e;
    };
    fails("replay:", "file name");
    fails("replay:,loop", "file name");
    fails("replay:" + f.path() + ",speed=0", "speed");
    fails("replay:" + f.path() + ",speed=-2", "speed");
    fails("replay:" + f.path() + ",speed=fast", "speed");
    fails("replay:" + f.path() + ",speed=", "speed");
    fails("replay:" + f.path() + ",speed=nan", "speed");
    fails("replay:" + f.path() + ",loop,rewind", "unknown replay option 'rewind'");
    fails("replay:/nonexistent/ticks.jsonl", "cannot read replay file /nonexistent/ticks.jsonl");
    fails("replay:" + ::testing::TempDir(), "directory");
    fails("simulator", "unknown feed 'simulator'");
    fails("nats://", "HOST:PORT");
    fails("nats://localhost", "HOST:PORT");
    fails("nats://localhost:4222,", "HOST:PORT");
    fails("nats:/localhost:4222", "unknown feed");
    EXPECT_TRUE(make("nats://127.0.0.1:4222,127.0.0.1:4223", error)) << error;  // connects only in run()
    fails("", "unknown feed");

    std::string e;
    EXPECT_EQ(make_feed("sim", SimulatorOptions{.symbols = 0}, 0, e), nullptr);
    EXPECT_NE(e.find("symbol"), std::string::npos) << e;
    EXPECT_EQ(make_feed("sim", SimulatorOptions{.rate = 0}, 0, e), nullptr);
    EXPECT_NE(e.find("rate"), std::string::npos) << e;
}

TEST(FeedFactory, FileWithoutAnyValidLineIsAnError) {
    TempFile f({"", "garbage"});
    ::testing::internal::CaptureStderr();
    std::string error;
    EXPECT_EQ(make("replay:" + f.path(), error), nullptr);
    ::testing::internal::GetCapturedStderr();
    EXPECT_NE(error.find("no valid update"), std::string::npos) << error;
}

}  // namespace
}  // namespace tickgate::feeds
