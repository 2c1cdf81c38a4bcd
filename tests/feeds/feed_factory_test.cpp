// make_feed: the --feed SPEC grammar. Each form builds its adapter with the options it names, and a
// malformed spec is refused with the one line the operator sees (tickgate: --feed ...: <error>).
#include <gtest/gtest.h>

#include "tests/feeds/temp_file.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "feeds/feed_adapter.hpp"
#include "feeds/nats_feed.hpp"
#include "feeds/replay_feed.hpp"
#include "feeds/simulator_feed.hpp"

namespace tickgate::feeds {
namespace {

using protocol::MarketUpdate;

using namespace std::chrono_literals;

const std::string kUnknown =
    "' (expected sim, replay:FILE[,speed=X][,loop] or nats://HOST:PORT[,HOST:PORT...])";

std::string ticker_line(const std::string& topic, std::int64_t ts_ms) {
    return R"({"type":"ticker","topic":")" + topic + R"(","seq":1,"ts":)" + std::to_string(ts_ms * 1'000'000) +
           R"(,"bid":"100.50","bid_size":"1.5","ask":"101.00","ask_size":"2","last":"100.75","last_size":"0.25",)"
           R"("open_24h":"99","high_24h":"102","low_24h":"98","volume_24h":"1234.5"})";
}

using testing::TempFile;

std::unique_ptr<FeedAdapter> build_feed(const std::string& spec, std::string& error, std::uint16_t index = 3) {
    return make_feed(spec, SimulatorOptions{}, index, error);
}

/// The error make_feed gives for `spec` (and that it builds nothing).
std::string error_of(const std::string& spec, const SimulatorOptions& sim = {}, const NatsOptions& nats = {}) {
    std::string error;
    EXPECT_EQ(make_feed(spec, sim, nats, 0, error), nullptr) << spec;
    return error;
}

struct RunResult {
    std::vector<MarketUpdate> updates;
    bool ended = false;  // run() returned by itself
};

// Runs the feed until it has published `want` updates or 5 s passed, whichever is first.
RunResult run_until(FeedAdapter& feed, std::size_t want) {
    UpdateChannel ch(1024);
    RunResult r;
    std::atomic<bool> ended{false};
    std::vector<MarketUpdate> batch(64);
    {
        std::jthread t([&](std::stop_token st) {
            feed.run(st, ch);
            ended = true;
        });
        for (const auto deadline = std::chrono::steady_clock::now() + 5s;
             r.updates.size() < want && std::chrono::steady_clock::now() < deadline;) {
            const bool was_ended = ended;
            const std::size_t n = ch.consume(batch, 10ms);
            r.updates.insert(r.updates.end(), batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(n));
            if (was_ended && n == 0) break;
        }
        r.ended = ended;
    }
    return r;
}

TEST(FeedFactory, SimBuildsTheSimulatorWithItsOptionsAndFeedIndex) {
    std::string error;
    auto feed = make_feed("sim", SimulatorOptions{.symbols = 3, .rate = 10, .seed = 5}, 7, error);
    ASSERT_TRUE(feed) << error;
    auto* sim = dynamic_cast<SimulatorFeed*>(feed.get());
    ASSERT_NE(sim, nullptr);
    EXPECT_EQ(sim->name(), "sim");
    std::set<std::string> topics;
    for (int i = 0; i < 30; ++i) {
        const auto u = sim->next_update();
        EXPECT_EQ(u.feed, 7u);
        topics.emplace(u.topic());
    }
    EXPECT_EQ(topics.size(), 3u) << "--symbols reaches the simulator";
    // Same seed, same prices: the options given are the ones used.
    SimulatorFeed same(SimulatorOptions{.symbols = 3, .rate = 10, .seed = 5}, 7);
    auto again = make_feed("sim", SimulatorOptions{.symbols = 3, .rate = 10, .seed = 5}, 7, error);
    auto* sim2 = dynamic_cast<SimulatorFeed*>(again.get());
    ASSERT_NE(sim2, nullptr);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(sim2->next_update().bid, same.next_update().bid);
}

TEST(FeedFactory, SimRefusesNoSymbolsAndRatesThatAreNotPositiveNumbers) {
    EXPECT_EQ(error_of("sim", SimulatorOptions{.symbols = 0}), "the simulator needs at least one symbol");
    const std::string rate = "the simulator rate must be a positive number of updates per second";
    EXPECT_EQ(error_of("sim", SimulatorOptions{.rate = 0}), rate);
    EXPECT_EQ(error_of("sim", SimulatorOptions{.rate = -5}), rate);
    EXPECT_EQ(error_of("sim", SimulatorOptions{.rate = std::nan("")}), rate);
    EXPECT_EQ(error_of("sim", SimulatorOptions{.rate = std::numeric_limits<double>::infinity()}), rate);
    const std::string books = "the simulator book and trade rates must be numbers of changes per second, 0 or more";
    EXPECT_EQ(error_of("sim", SimulatorOptions{.book_rate = -1}), books);
    EXPECT_EQ(error_of("sim", SimulatorOptions{.trade_rate = -0.5}), books);
    EXPECT_EQ(error_of("sim", SimulatorOptions{.book_rate = std::nan("")}), books);
    EXPECT_EQ(error_of("sim", SimulatorOptions{.trade_rate = std::numeric_limits<double>::infinity()}), books);
    std::string error;
    EXPECT_NE(make_feed("sim", SimulatorOptions{.book_rate = 0, .trade_rate = 0}, 0, error), nullptr) << error;
    EXPECT_NE(make_feed("sim", SimulatorOptions{.book_rate = 1000, .trade_rate = 200}, 0, error), nullptr) << error;
}

TEST(FeedFactory, ReplayBuildsAReplayOfTheFileNamedWithoutItsOptions) {
    TempFile f({ticker_line("ticker.BTC-USD", 0), ticker_line("ticker.ETH-USD", 1)});
    for (const std::string opts : {"", ",loop", ",speed=2", ",speed=0.5,loop", ",loop,speed=3"}) {
        std::string error;
        auto feed = build_feed("replay:" + f.path() + opts, error);
        ASSERT_TRUE(feed) << opts << ": " << error;
        auto* replay = dynamic_cast<ReplayFeed*>(feed.get());
        ASSERT_NE(replay, nullptr) << opts;
        EXPECT_EQ(replay->name(), "replay:" + f.path()) << opts;
        EXPECT_EQ(replay->size(), 2u) << opts;
    }
}

TEST(FeedFactory, ReplayWithoutLoopEndsAfterTheFileAndCarriesTheFeedIndex) {
    TempFile f({ticker_line("ticker.BTC-USD", 0), ticker_line("ticker.ETH-USD", 1)});
    std::string error;
    auto feed = build_feed("replay:" + f.path(), error, 4);
    ASSERT_TRUE(feed) << error;
    const auto r = run_until(*feed, 100);
    EXPECT_TRUE(r.ended);
    ASSERT_EQ(r.updates.size(), 2u);
    for (const auto& u : r.updates) EXPECT_EQ(u.feed, 4u);
}

TEST(FeedFactory, ReplayLoopOptionKeepsPlaying) {
    TempFile f({ticker_line("ticker.BTC-USD", 0), ticker_line("ticker.ETH-USD", 1)});
    std::string error;
    auto feed = build_feed("replay:" + f.path() + ",loop", error);
    ASSERT_TRUE(feed) << error;
    const auto r = run_until(*feed, 6);
    EXPECT_EQ(r.updates.size(), 6u) << "three laps of a two-line file";
    EXPECT_FALSE(r.ended);
}

TEST(FeedFactory, ReplaySpeedOptionReachesTheFeed) {
    // Recorded 10 s apart: at speed 1 the third update would come after 20 s, far past the 5 s
    // run_until allows; at speed 1000 it comes after 20 ms.
    TempFile f({ticker_line("ticker.BTC-USD", 0), ticker_line("ticker.BTC-USD", 10'000), ticker_line("ticker.BTC-USD", 20'000)});
    std::string error;
    auto feed = build_feed("replay:" + f.path() + ",speed=1000", error);
    ASSERT_TRUE(feed) << error;
    EXPECT_EQ(run_until(*feed, 3).updates.size(), 3u);
}

TEST(FeedFactory, MalformedReplaySpecsNameTheProblem) {
    TempFile f({ticker_line("ticker.BTC-USD", 0)});
    const std::string file = "replay:" + f.path();
    const std::string no_file = "replay feed needs a file name: replay:FILE[,speed=X][,loop]";
    EXPECT_EQ(error_of("replay:"), no_file);
    EXPECT_EQ(error_of("replay:,loop"), no_file);
    EXPECT_EQ(error_of("replay:,speed=2"), no_file);

    for (const std::string bad : {"0", "-1", "", "fast", "2x", " 2", "inf", "nan", "1e999"})
        EXPECT_EQ(error_of(file + ",speed=" + bad), "replay speed must be a positive number, not '" + bad + "'");
    EXPECT_EQ(error_of(file + ",loop,speed=0"), "replay speed must be a positive number, not '0'");

    const auto unknown = [](const std::string& opt) {
        return "unknown replay option '" + opt + "' (expected speed=X or loop)";
    };
    EXPECT_EQ(error_of(file + ",rewind"), unknown("rewind"));
    EXPECT_EQ(error_of(file + ",Loop"), unknown("Loop"));
    EXPECT_EQ(error_of(file + ",speed"), unknown("speed"));
    EXPECT_EQ(error_of(file + ","), unknown(""));
    EXPECT_EQ(error_of(file + ",loop,,speed=2"), unknown(""));
    // Options are checked before the file is read: a bad option of a missing file names the option.
    EXPECT_EQ(error_of("replay:/nonexistent/ticks.jsonl,fast"), unknown("fast"));
}

TEST(FeedFactory, UnreadableReplayFilesNameTheFileAndTheReason) {
    EXPECT_EQ(error_of("replay:/nonexistent/ticks.jsonl"),
              "cannot read replay file /nonexistent/ticks.jsonl: No such file or directory");
    const std::string dir = ::testing::TempDir();
    EXPECT_EQ(error_of("replay:" + dir), "cannot read replay file " + dir + ": it is a directory");
    TempFile empty({""});
    EXPECT_EQ(error_of("replay:" + empty.path()), "replay file " + empty.path() + " holds no valid update");
}

TEST(FeedFactory, NatsBuildsASubscriberNamedByItsServers) {
    std::string error;
    // No connection yet: the subscriber connects in run().
    auto feed = build_feed("nats://127.0.0.1:4222", error);
    ASSERT_TRUE(feed) << error;
    ASSERT_NE(dynamic_cast<NatsFeed*>(feed.get()), nullptr);
    EXPECT_EQ(feed->name(), "nats://127.0.0.1:4222");
    EXPECT_NE(feed->upstream_stats(), nullptr);

    feed = build_feed("nats://a.example:4222,nats://b.example:4223", error);
    ASSERT_TRUE(feed) << error;
    EXPECT_EQ(feed->name(), "nats://a.example:4222,b.example:4223") << "one scheme for the list";
}

TEST(FeedFactory, MalformedNatsSpecsNameTheBadEntry) {
    const auto bad = [](const std::string& entry) {
        return "NATS servers must be HOST:PORT[,HOST:PORT...], not '" + entry + "'";
    };
    EXPECT_EQ(error_of("nats://"), bad(""));
    EXPECT_EQ(error_of("nats://localhost"), bad("localhost"));
    EXPECT_EQ(error_of("nats://localhost:"), bad("localhost:"));
    EXPECT_EQ(error_of("nats://:4222"), bad(":4222"));
    EXPECT_EQ(error_of("nats://localhost:42a2"), bad("localhost:42a2"));
    EXPECT_EQ(error_of("nats://localhost:123456"), bad("localhost:123456"));
    EXPECT_EQ(error_of("nats://localhost:4222,"), bad(""));
    EXPECT_EQ(error_of("nats://a:1,b,c:3"), bad("b"));
    EXPECT_EQ(error_of("nats://127.0.0.1:4222", {}, NatsOptions{.subjects = ""}), "NATS subjects must not be empty");
}

TEST(FeedFactory, AnythingElseIsAnUnknownFeedListingTheForms) {
    for (const std::string spec : {"", "simulator", "sim:", "SIM", " sim", "replay", "Replay:x.jsonl", "nats:/h:4222",
                                   "nats:h:4222", "ws://h:4222"})
        EXPECT_EQ(error_of(spec), "unknown feed '" + spec + kUnknown) << spec;
}

}  // namespace
}  // namespace tickgate::feeds
