#include "feeds/simulator_feed.hpp"

#include <gtest/gtest.h>

#include <algorithm>
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

std::vector<protocol::MarketUpdate> take(SimulatorFeed& sim, int n) {
    std::vector<protocol::MarketUpdate> v;
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
    for (const protocol::MarketUpdate& u : take(sim, 200'000)) {
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
    for (const protocol::MarketUpdate& u : take(sim, kSymbols)) {
        ASSERT_EQ(protocol::classify_entry(u.topic()), protocol::EntryKind::topic) << u.topic();
        topics.emplace(u.topic());
    }
    EXPECT_EQ(topics.size(), kSymbols);
    EXPECT_TRUE(topics.contains("ticker.DOGE-USD"));
    EXPECT_TRUE(topics.contains("ticker.SYM0001-USD"));
    EXPECT_TRUE(topics.contains("ticker.XRP-USD"));
}

}  // namespace
}  // namespace tickgate::feeds
