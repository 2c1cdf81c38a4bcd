#include "feeds/simulator_feed.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "feeds/runtime/clock.hpp"
#include "protocol/topic.hpp"

namespace tickgate::feeds {
namespace {

using namespace std::chrono_literals;

std::vector<protocol::TickerUpdate> take(SimulatorFeed& sim, int n) {
    std::vector<protocol::TickerUpdate> v;
    for (int i = 0; i < n; ++i) v.push_back(sim.next_update());
    return v;
}

TEST(SimulatorFeed, SameSeedSameSequence) {
    SimulatorOptions opt{.symbols = 40, .rate = 1000, .seed = 7};
    SimulatorFeed a(opt, 0), b(opt, 0);
    const auto va = take(a, 5000), vb = take(b, 5000);
    for (std::size_t i = 0; i < va.size(); ++i) {
        ASSERT_EQ(va[i].topic(), vb[i].topic());
        ASSERT_EQ(va[i].seq, vb[i].seq);
        ASSERT_EQ(va[i].bid, vb[i].bid);
        ASSERT_EQ(va[i].ask, vb[i].ask);
        ASSERT_EQ(va[i].last, vb[i].last);
        ASSERT_EQ(va[i].last_size, vb[i].last_size);
        ASSERT_EQ(va[i].volume_24h, vb[i].volume_24h);
        ASSERT_EQ(va[i].high_24h, vb[i].high_24h);
        ASSERT_EQ(va[i].price_decimals, vb[i].price_decimals);
    }
    SimulatorFeed c(SimulatorOptions{.symbols = 40, .rate = 1000, .seed = 8}, 0);
    const auto vc = take(c, 5000);
    int differing = 0;
    for (std::size_t i = 0; i < va.size(); ++i) differing += va[i].last != vc[i].last;
    EXPECT_GT(differing, 4000) << "another seed must give other prices";
}

TEST(SimulatorFeed, PricesAreConsistentAndSeqRisesByOnePerTopic) {
    SimulatorFeed sim(SimulatorOptions{.symbols = 50, .rate = 1000, .seed = 3}, 4);
    std::map<std::string, std::uint64_t> last_seq;
    const auto start = runtime::realtime_ns();
    for (const protocol::TickerUpdate& u : take(sim, 200'000)) {
        auto& seq = last_seq[std::string(u.topic())];
        ASSERT_EQ(u.seq, seq + 1) << u.topic();
        seq = u.seq;
        ASSERT_EQ(u.feed, 4);
        ASSERT_GT(u.bid, 0);
        ASSERT_LT(u.bid, u.ask) << u.topic();
        ASSERT_LE(u.bid, u.last);
        ASSERT_LE(u.last, u.ask);
        ASSERT_LE(u.low_24h, u.last);
        ASSERT_LE(u.last, u.high_24h);
        ASSERT_GT(u.last_size, 0);
        ASSERT_GT(u.bid_size, 0);
        ASSERT_GT(u.ask_size, 0);
        ASSERT_GT(u.volume_24h, 0);
        ASSERT_GT(u.open_24h, 0);
        ASSERT_LE(u.price_decimals, 8);
        ASSERT_GE(u.size_decimals, 4);
        ASSERT_LE(u.size_decimals, 8);
        ASSERT_GE(u.ts_ns, start);
    }
    EXPECT_EQ(last_seq.size(), 50u);
}

TEST(SimulatorFeed, RealPairsFirstWithTheirDecimals) {
    SimulatorFeed sim(SimulatorOptions{.symbols = 3, .rate = 1000, .seed = 1}, 0);
    ASSERT_EQ(sim.symbol_count(), 3u);
    const auto v = take(sim, 6);
    EXPECT_EQ(v[0].topic(), "ticker.BTC-USD");
    EXPECT_EQ(v[0].price_decimals, 2);
    EXPECT_EQ(v[1].topic(), "ticker.ETH-USD");
    EXPECT_EQ(v[2].topic(), "ticker.SOL-USD");
    EXPECT_EQ(v[2].price_decimals, 3);
    EXPECT_EQ(v[3].topic(), "ticker.BTC-USD");
    EXPECT_EQ(v[3].seq, 2u);
    EXPECT_GT(v[0].last, 1'000'000) << "BTC above $10,000";
}

TEST(SimulatorFeed, SyntheticSymbolsFillUpTheCountWithValidTopics) {
    constexpr std::uint32_t kSymbols = 1200;
    SimulatorFeed sim(SimulatorOptions{.symbols = kSymbols, .rate = 1000, .seed = 1}, 0);
    ASSERT_EQ(sim.symbol_count(), kSymbols);
    std::set<std::string> topics;
    for (const protocol::TickerUpdate& u : take(sim, kSymbols)) {
        ASSERT_EQ(protocol::classify_entry(u.topic()), protocol::EntryKind::topic) << u.topic();
        topics.emplace(u.topic());
    }
    EXPECT_EQ(topics.size(), kSymbols);
    EXPECT_TRUE(topics.contains("ticker.DOGE-USD"));
    EXPECT_TRUE(topics.contains("ticker.SYM0001-USD"));
    EXPECT_TRUE(topics.contains("ticker.XRP-USD"));
}

TEST(SimulatorFeed, SlowFeedStopsPromptly) {
    SimulatorFeed sim(SimulatorOptions{.symbols = 1, .rate = 0.5, .seed = 1}, 0);
    UpdateChannel ch(16);
    std::jthread feed([&](std::stop_token st) { sim.run(st, ch); });
    std::this_thread::sleep_for(50ms);
    const auto t0 = std::chrono::steady_clock::now();
    feed.request_stop();
    feed.join();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 50ms);
    EXPECT_EQ(ch.depth(), 1u) << "the first update is due at once, the next only after 2 s";
}

TEST(SimulatorFeed, UpdatesSkippedWhileStalledAreCounted) {
    // A lane of 16 that nobody drains for 300 ms stalls a 1,000/s feed well past its 0.1 s
    // catch-up allowance: ~280 updates are never produced, and the feed says so.
    SimulatorFeed sim(SimulatorOptions{.symbols = 10, .rate = 1000, .seed = 1}, 0);
    UpdateChannel ch(16);
    std::jthread feed([&](std::stop_token st) { sim.run(st, ch); });
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(sim.updates_dropped_late(), 0u) << "nothing is skipped while the feed is still blocked";
    std::vector<protocol::TickerUpdate> drained;
    const auto until = std::chrono::steady_clock::now() + 200ms;
    std::array<protocol::TickerUpdate, 64> batch;
    while (std::chrono::steady_clock::now() < until) {
        const std::size_t n = ch.consume(batch, 5ms);
        drained.insert(drained.end(), batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(n));
    }
    feed.request_stop();
    feed.join();
    EXPECT_GT(sim.updates_dropped_late(), 150u);
    EXPECT_LT(sim.updates_dropped_late(), 400u);
    // What was produced still has seq rising by one per topic: skipped updates were never made,
    // so clients see no gap for them.
    std::map<std::string, std::uint64_t> last;
    for (const auto& u : drained) {
        const std::string topic(u.topic());
        if (last.count(topic)) EXPECT_EQ(u.seq, last[topic] + 1) << topic;
        last[topic] = u.seq;
    }
}

}  // namespace
}  // namespace tickgate::feeds
