#include "feeds/simulator_feed.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <new>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "feeds/runtime/clock.hpp"
#include "protocol/model/market_update.hpp"
#include "protocol/topic.hpp"

// Counts every operator new of this test binary, for SimulatorBooks.NextEventAllocatesNothing.
namespace {
std::atomic<std::size_t> g_allocations{0};
std::size_t allocations() { return g_allocations.load(std::memory_order_relaxed); }
}  // namespace

__attribute__((noinline)) void* operator new(std::size_t n) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}
// Not inlined: GCC would otherwise pair a free() it sees with the operator new it does not and warn.
__attribute__((noinline)) void operator delete(void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, std::size_t) noexcept { std::free(p); }

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

// ---- Rates 0: the ticker-only sequence, unchanged ------------------------------------------------

// FNV-1a over every field but ts of the first n updates. The expected values were recorded from the
// ticker-only simulator before books and trades were added (commit aa7e0bc): with book_rate and
// trade_rate 0 the sequence must stay bit for bit what it was, so existing baselines hold.
std::uint64_t ticker_sequence_hash(const SimulatorOptions& opt, std::uint16_t feed, int n) {
    SimulatorFeed sim(opt, feed);
    std::uint64_t h = 1469598103934665603ULL;
    const auto add = [&h](std::uint64_t v) {
        for (int i = 0; i < 8; ++i) {
            h ^= (v >> (8 * i)) & 0xff;
            h *= 1099511628211ULL;
        }
    };
    for (int i = 0; i < n; ++i) {
        const protocol::MarketUpdate u = sim.next_event();
        for (char c : u.topic()) add(static_cast<unsigned char>(c));
        add(u.seq);
        for (const std::int64_t v : {u.bid, u.bid_size, u.ask, u.ask_size, u.last, u.last_size, u.open_24h, u.high_24h,
                                     u.low_24h, u.volume_24h})
            add(static_cast<std::uint64_t>(v));
        add(u.price_decimals);
        add(u.size_decimals);
        add(u.feed);
        add(static_cast<std::uint64_t>(u.kind));
    }
    return h;
}

TEST(SimulatorFeed, RatesZeroGiveTheTickerOnlySequenceOfBefore) {
    EXPECT_EQ(ticker_sequence_hash(SimulatorOptions{.symbols = 20, .rate = 1000, .seed = 1}, 2, 100'000),
              0xef7f73930d08ad4bULL);
    EXPECT_EQ(ticker_sequence_hash(SimulatorOptions{.symbols = 40, .rate = 1000, .seed = 7, .book_rate = 0,
                                                    .trade_rate = 0},
                                   2, 100'000),
              0x281d576c75a60f27ULL);
    EXPECT_EQ(ticker_sequence_hash(SimulatorOptions{.symbols = 1200, .rate = 1000, .seed = 3}, 2, 50'000),
              0x9fd978791d746347ULL);
    EXPECT_EQ(ticker_sequence_hash(SimulatorOptions{.symbols = 3, .rate = 10, .seed = 5}, 2, 1000),
              0x55e5ab4051afc252ULL);
    // And the first two updates in full, as the ticker-only simulator produced them.
    SimulatorFeed sim(SimulatorOptions{.symbols = 20, .rate = 1000, .seed = 1}, 2);
    const auto a = sim.next_event(), b = sim.next_event();
    EXPECT_EQ(a.kind, protocol::UpdateKind::ticker);
    EXPECT_EQ(a.topic(), "ticker.BTC-USD");
    EXPECT_EQ(a.seq, 1u);
    EXPECT_EQ(a.bid, 6424786);
    EXPECT_EQ(a.bid_size, 1867705);
    EXPECT_EQ(a.ask, 6426712);
    EXPECT_EQ(a.ask_size, 14505835);
    EXPECT_EQ(a.last, 6424980);
    EXPECT_EQ(a.last_size, 8653696);
    EXPECT_EQ(a.open_24h, 6425000);
    EXPECT_EQ(a.high_24h, 6553500);
    EXPECT_EQ(a.low_24h, 6296500);
    EXPECT_EQ(a.volume_24h, 311289540856);
    EXPECT_EQ(b.topic(), "ticker.ETH-USD");
    EXPECT_EQ(b.bid, 311994);
    EXPECT_EQ(b.ask, 312084);
    EXPECT_EQ(b.last, 312002);
    EXPECT_EQ(b.volume_24h, 6409229200001);
}

// ---- Books and trades ----------------------------------------------------------------------------

using protocol::UpdateKind;
constexpr std::size_t kNone = static_cast<std::size_t>(-1);

// What a consumer of the simulator's stream builds per symbol (a reference book of two std::maps
// fed by every fragment, the last trade, the seqs), checking every property of the stream on the
// way: call feed() with each slot, in order, right after next_event() returned it.
class StreamChecker {
public:
    StreamChecker(const SimulatorFeed& sim, bool books) : sim_(sim), books_(books), refs_(sim.symbol_count()) {
        for (std::size_t i = 0; i < sim.symbol_count(); ++i) index_[std::string(sim.pair_of(i))] = i;
    }

    void feed(const protocol::MarketUpdate& u) {
        const std::string_view topic = u.topic();
        const auto dot = topic.find('.');
        ASSERT_NE(dot, std::string_view::npos) << topic;
        const std::string_view channel = topic.substr(0, dot);
        const auto it = index_.find(std::string(topic.substr(dot + 1)));
        ASSERT_NE(it, index_.end()) << topic;
        const std::size_t sym = it->second;
        Ref& r = refs_[sym];
        ASSERT_LE(u.price_decimals, 8);
        ASSERT_GE(u.size_decimals, 4);
        if (r.slots++ == 0) {
            r.price_decimals = u.price_decimals;
            r.size_decimals = u.size_decimals;
        }
        ASSERT_EQ(u.price_decimals, r.price_decimals) << topic << ": every kind of a symbol has its decimals";
        ASSERT_EQ(u.size_decimals, r.size_decimals) << topic;
        if (open_ != kNone) {
            ASSERT_EQ(u.kind, UpdateKind::book) << "nothing comes between the fragments of a change";
            ASSERT_EQ(sym, open_) << "nothing comes between the fragments of a change";
        }
        if (awaiting_ != kNone && !(u.kind == UpdateKind::trade && sym == awaiting_)) {
            ASSERT_EQ(u.kind, UpdateKind::book) << "a trade's book change comes right after it";
            ASSERT_EQ(sym, awaiting_) << "a trade's book change comes right after it";
            ASSERT_TRUE(u.book.flags & protocol::kBookFirst);
            ASSERT_FALSE(u.book.flags & protocol::kBookReset);
            awaiting_ = kNone;
            ++trade_changes;
        }
        switch (u.kind) {
            case UpdateKind::ticker:
                ASSERT_EQ(channel, "ticker");
                on_ticker(r, u);
                break;
            case UpdateKind::book:
                ASSERT_TRUE(books_) << "book slots with book_rate 0";
                ASSERT_EQ(channel, "book");
                on_fragment(sym, r, u);
                break;
            case UpdateKind::trade:
                ASSERT_EQ(channel, "trade");
                on_trade(sym, r, u);
                break;
            default:
                FAIL() << "unknown kind";
        }
        if (::testing::Test::HasFatalFailure()) return;
        trade_continues_ = u.kind == UpdateKind::trade && sim_.buffered_slots() > 0 ? sym : kNone;
        // At the end of each event: the reference is exactly the simulator's published top.
        if (books_ && sim_.buffered_slots() == 0 && open_ == kNone && r.have_book) compare(sym, r);
    }

    const std::map<std::int64_t, std::int64_t, std::greater<>>& bids(std::size_t sym) const { return refs_[sym].bids; }
    const std::map<std::int64_t, std::int64_t>& asks(std::size_t sym) const { return refs_[sym].asks; }
    bool has_book(std::size_t sym) const { return refs_[sym].have_book; }

    std::size_t tickers = 0, tickers_with_book = 0, tickers_with_trade = 0;
    std::size_t changes = 0, resets = 0, multi_slot_changes = 0, trade_changes = 0;
    std::size_t adds = 0, removals = 0, modifications = 0, top10_level_changes = 0, level_changes = 0;
    std::size_t trades = 0, walked_orders = 0, filled_levels_checked = 0, compares = 0;
    std::size_t widest_reset = 0;  // fragments

private:
    struct Ref {
        std::map<std::int64_t, std::int64_t, std::greater<>> bids;  // best (highest) first
        std::map<std::int64_t, std::int64_t> asks;                  // best (lowest) first
        bool have_book = false, have_trade = false;
        std::uint64_t book_seq = 0, trade_seq = 0, ticker_seq = 0, last_trade_id = 0;
        std::uint64_t change_seq = 0;
        std::int64_t change_ts = 0;
        std::size_t change_fragments = 0;
        bool change_has_sets = false;
        std::int64_t last = 0, last_size = 0;
        std::uint8_t price_decimals = 0, size_decimals = 0;
        std::size_t slots = 0;
        // Levels trades filled since the last change: (ask side, price) -> size they must have after it.
        std::map<std::pair<bool, std::int64_t>, std::int64_t> filled;
    };

    void on_ticker(Ref& r, const protocol::MarketUpdate& u) {
        ++tickers;
        ASSERT_EQ(u.seq, r.ticker_seq + 1) << u.topic();
        r.ticker_seq = u.seq;
        ASSERT_GT(u.bid, 0) << u.topic();
        ASSERT_LT(u.bid, u.ask) << u.topic();
        ASSERT_GT(u.bid_size, 0);
        ASSERT_GT(u.ask_size, 0);
        ASSERT_GT(u.last, 0);
        ASSERT_GT(u.last_size, 0);
        ASSERT_LE(u.low_24h, u.last);
        ASSERT_LE(u.last, u.high_24h);
        ASSERT_GT(u.volume_24h, 0);
        if (books_) {
            ASSERT_TRUE(r.have_book) << u.topic() << ": a symbol's full book comes before its first ticker";
            ASSERT_EQ(u.bid, r.bids.begin()->first) << u.topic() << " ticker " << u.seq;
            ASSERT_EQ(u.bid_size, r.bids.begin()->second) << u.topic();
            ASSERT_EQ(u.ask, r.asks.begin()->first) << u.topic();
            ASSERT_EQ(u.ask_size, r.asks.begin()->second) << u.topic();
            ++tickers_with_book;
        }
        if (r.have_trade) {
            ASSERT_EQ(u.last, r.last) << u.topic() << ": last is the last trade's price";
            ASSERT_EQ(u.last_size, r.last_size) << u.topic();
            ++tickers_with_trade;
        }
    }

    void on_fragment(std::size_t sym, Ref& r, const protocol::MarketUpdate& u) {
        const protocol::BookFragment& f = u.book;
        ASSERT_LE(f.count, protocol::kLevelsPerFragment);
        ASSERT_EQ(f.ask_mask >> f.count, 0) << "mask bits beyond count";
        if (f.flags & protocol::kBookFirst) {
            ASSERT_EQ(open_, kNone);
            ASSERT_EQ(u.seq, r.book_seq + 1) << u.topic() << ": book seq +1 per change";
            if (r.book_seq == 0) {
                ASSERT_TRUE(f.flags & protocol::kBookReset) << "the first change is the full book";
            }
            if (f.flags & protocol::kBookReset) {
                r.bids.clear();
                r.asks.clear();
                ++resets;
            } else {
                ASSERT_GT(f.count, 0) << "an empty change is never sent";
            }
            open_ = sym;
            r.change_seq = u.seq;
            r.change_ts = u.ts_ns;
            r.change_fragments = 0;
            r.change_has_sets = false;
        } else {
            ASSERT_EQ(open_, sym) << "a fragment without its first";
            ASSERT_EQ(u.seq, r.change_seq) << "all fragments of a change share its seq";
            ASSERT_EQ(u.ts_ns, r.change_ts) << "all fragments of a change share its ts";
            ASSERT_FALSE(f.flags & protocol::kBookReset);
            ASSERT_GT(f.count, 0);
        }
        ++r.change_fragments;
        for (std::size_t k = 0; k < f.count; ++k) {
            const bool ask = (f.ask_mask >> k) & 1;
            const std::int64_t price = f.price[k], size = f.size[k];
            ASSERT_GT(price, 0);
            ASSERT_GE(size, 0);
            ++level_changes;
            const std::size_t depth_before = ask ? depth_of(r.asks, price) : depth_of(r.bids, price);
            if (depth_before < 10) ++top10_level_changes;
            if (size == 0) {
                ASSERT_FALSE(r.change_has_sets) << "removals come before the sizes in a change";
                const std::size_t erased = ask ? r.asks.erase(price) : r.bids.erase(price);
                ASSERT_EQ(erased, 1u) << u.topic() << ": a removal is of a level held, price " << price;
                ++removals;
            } else {
                r.change_has_sets = true;
                if (ask ? r.asks.contains(price) : r.bids.contains(price)) {
                    ASSERT_NE(ask ? r.asks[price] : r.bids[price], size) << "a change that changes nothing";
                    ++modifications;
                } else {
                    ++adds;
                }
                if (ask)
                    r.asks[price] = size;
                else
                    r.bids[price] = size;
                ASSERT_LE(r.asks.size(), SimulatorFeed::kPublishedDepth) << "more than 50 levels while applying";
                ASSERT_LE(r.bids.size(), SimulatorFeed::kPublishedDepth) << "more than 50 levels while applying";
            }
        }
        if (f.flags & protocol::kBookLast) {
            open_ = kNone;
            r.book_seq = u.seq;
            r.have_book = true;
            ++changes;
            if (r.change_fragments > 1) ++multi_slot_changes;
            if (r.change_seq == 1) widest_reset = std::max(widest_reset, r.change_fragments);
            if (!r.bids.empty() && !r.asks.empty()) {
                ASSERT_LT(r.bids.begin()->first, r.asks.begin()->first) << u.topic() << ": crossed";
            }
            for (const auto& [key, expected] : r.filled) {
                const auto& [ask, price] = key;
                const auto held = ask ? r.asks.find(price) : r.bids.find(price);
                const bool present = ask ? held != r.asks.end() : held != r.bids.end();
                if (expected == 0) {
                    ASSERT_FALSE(present) << u.topic() << ": a level filled whole is removed";
                } else {
                    ASSERT_TRUE(present) << u.topic() << ": a level filled in part stays";
                    ASSERT_EQ(held->second, expected) << u.topic() << ": a trade takes its size off the level";
                }
                ++filled_levels_checked;
            }
            r.filled.clear();
        }
    }

    void on_trade(std::size_t sym, Ref& r, const protocol::MarketUpdate& u) {
        ++trades;
        ASSERT_EQ(u.seq, r.trade_seq + 1) << u.topic() << ": trade seq +1 per trade";
        r.trade_seq = u.seq;
        if (r.last_trade_id != 0) {
            ASSERT_EQ(u.trade.trade_id, r.last_trade_id + 1) << "trade ids count up";
        }
        r.last_trade_id = u.trade.trade_id;
        ASSERT_GT(u.trade.price, 0);
        ASSERT_GT(u.trade.size, 0);
        ASSERT_TRUE(u.trade.side == protocol::TradeSide::buy || u.trade.side == protocol::TradeSide::sell);
        r.last = u.trade.price;
        r.last_size = u.trade.size;
        r.have_trade = true;
        // Fills of one order are consecutive trades of one event.
        fills_in_order_ = trade_continues_ == sym ? fills_in_order_ + 1 : 1;
        if (fills_in_order_ == 2) ++walked_orders;
        ASSERT_LE(fills_in_order_, SimulatorFeed::kMaxFillsPerOrder);
        if (!books_) return;
        ASSERT_TRUE(r.have_book) << u.topic() << ": a symbol's full book comes before its first trade";
        const bool ask = u.trade.side == protocol::TradeSide::buy;  // a buy takes from the asks
        const auto key = std::make_pair(ask, u.trade.price);
        std::int64_t remaining;
        if (const auto f = r.filled.find(key); f != r.filled.end()) {
            remaining = f->second;
        } else {
            const auto held = ask ? r.asks.find(u.trade.price) : r.bids.find(u.trade.price);
            ASSERT_TRUE(ask ? held != r.asks.end() : held != r.bids.end())
                << u.topic() << ": a trade at a price the book does not hold";
            remaining = held->second;
        }
        ASSERT_GE(remaining, u.trade.size) << u.topic() << ": a trade larger than its level";
        // It fills at the best level that has size left: every better one was filled whole.
        const auto better_all_filled = [&](const auto& side) {
            for (const auto& [price, size] : side) {
                if (price == u.trade.price) break;
                const auto f = r.filled.find(std::make_pair(ask, price));
                if (f == r.filled.end() || f->second != 0) return false;
            }
            return true;
        };
        ASSERT_TRUE(ask ? better_all_filled(r.asks) : better_all_filled(r.bids))
            << u.topic() << ": a trade not at the best level";
        r.filled[key] = remaining - u.trade.size;
        awaiting_ = sym;
    }

    template <typename Map>
    static std::size_t depth_of(const Map& side, std::int64_t price) {
        std::size_t d = 0;
        for (auto it = side.begin(); it != side.end() && it->first != price; ++it) {
            if (side.key_comp()(price, it->first)) break;  // price is better than this level
            ++d;
        }
        return d;
    }

    void compare(std::size_t sym, const Ref& r) {
        ++compares;
        for (const bool ask : {false, true}) {
            const auto levels = sim_.book_side(sym, ask);
            const std::size_t published = std::min(levels.size(), SimulatorFeed::kPublishedDepth);
            const std::size_t held = ask ? r.asks.size() : r.bids.size();
            ASSERT_EQ(held, published) << sim_.pair_of(sym) << (ask ? " asks" : " bids");
            std::size_t d = 0;
            const auto check = [&](const auto& side) {
                for (const auto& [price, size] : side) {
                    ASSERT_EQ(price, levels[d].price) << sim_.pair_of(sym) << " depth " << d;
                    ASSERT_EQ(size, levels[d].size) << sim_.pair_of(sym) << " depth " << d;
                    ++d;
                }
            };
            if (ask)
                check(r.asks);
            else
                check(r.bids);
            if (::testing::Test::HasFatalFailure()) return;
        }
    }

    const SimulatorFeed& sim_;
    bool books_;
    std::vector<Ref> refs_;
    std::map<std::string, std::size_t> index_;
    std::size_t open_ = kNone;      // symbol of the change in progress
    std::size_t awaiting_ = kNone;  // symbol whose trades await their change
    std::size_t trade_continues_ = kNone;  // symbol of a trade its event continues after
    std::size_t fills_in_order_ = 0;
};

// Pulls n slots through the checker; stops at the first fatal failure.
void check_stream(SimulatorFeed& sim, StreamChecker& checker, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        checker.feed(sim.next_event());
        if (::testing::Test::HasFatalFailure()) {
            ADD_FAILURE() << "at slot " << i;
            return;
        }
    }
}

TEST(SimulatorBooks, ReferenceBookEqualsTheSimulatorsTop50AtEveryChange) {
    // The default of scripts/run.sh, trades outpacing book changes, many cheap synthetic symbols,
    // and a slow ticker: the reference book built from every fragment is the simulator's top 50
    // at the end of every event, never crossed.
    const SimulatorOptions configs[] = {
        {.symbols = 20, .rate = 1000, .seed = 1, .book_rate = 1000, .trade_rate = 200},
        {.symbols = 50, .rate = 1000, .seed = 2, .book_rate = 100, .trade_rate = 2000},
        {.symbols = 1200, .rate = 1000, .seed = 3, .book_rate = 5000, .trade_rate = 500},
        {.symbols = 3, .rate = 20, .seed = 4, .book_rate = 1000, .trade_rate = 1000},
        {.symbols = 30, .rate = 100'000, .seed = 5, .book_rate = 500, .trade_rate = 100},  // the mid runs ahead
    };
    for (const SimulatorOptions& opt : configs) {
        SCOPED_TRACE("symbols " + std::to_string(opt.symbols) + ", book rate " + std::to_string(opt.book_rate));
        SimulatorFeed sim(opt, 1);
        StreamChecker checker(sim, true);
        check_stream(sim, checker, 150'000);
        if (HasFatalFailure()) return;
        EXPECT_GT(checker.changes, 500u);
        EXPECT_GT(checker.compares, 10'000u);
        EXPECT_GT(checker.trades, 100u);
        EXPECT_GT(checker.adds, 300u);
        EXPECT_GT(checker.removals, 300u);
        EXPECT_GT(checker.modifications, 300u);
    }
}

TEST(SimulatorBooks, TheFirstChangeOfEachSymbolIsItsFullBookInManyFragments) {
    SimulatorFeed sim(SimulatorOptions{.symbols = 20, .rate = 1000, .seed = 1, .book_rate = 1000, .trade_rate = 200}, 0);
    StreamChecker checker(sim, true);
    std::set<std::string> reset_seen;
    std::size_t fragments = 0;
    for (int i = 0; i < 20'000 && !HasFatalFailure(); ++i) {
        const protocol::MarketUpdate u = sim.next_event();
        checker.feed(u);
        if (u.kind != UpdateKind::book) continue;
        if (u.book.flags & protocol::kBookReset) {
            EXPECT_TRUE(u.book.flags & protocol::kBookFirst);
            EXPECT_EQ(u.seq, 1u) << u.topic() << ": the full book is change 1";
            EXPECT_TRUE(reset_seen.emplace(u.topic()).second) << u.topic() << ": one reset per symbol";
            fragments = 0;
        }
        ++fragments;
        if (u.seq == 1 && (u.book.flags & protocol::kBookLast)) {
            EXPECT_EQ(fragments, 2 * SimulatorFeed::kPublishedDepth / protocol::kLevelsPerFragment)
                << u.topic() << ": 50 bids and 50 asks, 4 to a slot";
        }
    }
    EXPECT_EQ(reset_seen.size(), 20u);
    EXPECT_EQ(checker.resets, 20u);
    EXPECT_EQ(checker.widest_reset, 25u);
    EXPECT_GT(checker.multi_slot_changes, 20u) << "deltas of more than 4 levels span slots too";
    for (std::size_t s = 0; s < sim.symbol_count(); ++s) {
        EXPECT_EQ(checker.bids(s).size(), 50u) << sim.pair_of(s);
        EXPECT_EQ(checker.asks(s).size(), 50u) << sim.pair_of(s);
    }
}

TEST(SimulatorBooks, TradesTakeTheirSizeOffTheLevelsTheyFilled) {
    SimulatorFeed sim(SimulatorOptions{.symbols = 10, .rate = 1000, .seed = 9, .book_rate = 1000, .trade_rate = 1000}, 0);
    StreamChecker checker(sim, true);
    check_stream(sim, checker, 200'000);
    EXPECT_GT(checker.trades, 30'000u);
    // Every trade's level checked after its change (the stream may stop before the last one's).
    EXPECT_GE(checker.filled_levels_checked + SimulatorFeed::kMaxFillsPerOrder, checker.trades);
    EXPECT_GT(checker.trade_changes, 20'000u);
    EXPECT_GT(checker.walked_orders, 500u) << "orders that walk to the next level";
}

TEST(SimulatorBooks, TickersCarryTheBestLevelsAndTheLastTrade) {
    SimulatorFeed sim(SimulatorOptions{.symbols = 20, .rate = 2000, .seed = 11, .book_rate = 1000, .trade_rate = 300}, 0);
    StreamChecker checker(sim, true);
    check_stream(sim, checker, 200'000);
    EXPECT_GT(checker.tickers_with_book, 50'000u);
    EXPECT_GT(checker.tickers_with_trade, 50'000u);
}

TEST(SimulatorBooks, TradesWithoutBooksStillFillTheBestLevels) {
    // book_rate 0: no book slots at all; the book lives on inside (following the walk at each
    // trade), each order fills at the best level, and the tickers report it.
    SimulatorFeed sim(SimulatorOptions{.symbols = 8, .rate = 1000, .seed = 12, .trade_rate = 500}, 0);
    StreamChecker checker(sim, false);
    std::map<std::string, std::size_t, std::less<>> index;
    for (std::size_t i = 0; i < sim.symbol_count(); ++i) index[std::string(sim.pair_of(i))] = i;
    // Every symbol's best bid and ask at the last event boundary.
    std::vector<std::pair<std::int64_t, std::int64_t>> best(sim.symbol_count());
    const auto remember = [&] {
        for (std::size_t i = 0; i < sim.symbol_count(); ++i) {
            const auto bids = sim.book_side(i, false), asks = sim.book_side(i, true);
            ASSERT_GE(bids.size(), SimulatorFeed::kPublishedDepth);
            ASSERT_GE(asks.size(), SimulatorFeed::kPublishedDepth);
            ASSERT_LT(bids[0].price, asks[0].price);
            best[i] = {bids[0].price, asks[0].price};
        }
    };
    remember();
    bool event_start = true;
    std::size_t first_fills = 0;
    for (int i = 0; i < 200'000 && !HasFatalFailure(); ++i) {
        const protocol::MarketUpdate u = sim.next_event();
        ASSERT_NE(u.kind, UpdateKind::book);
        if (event_start && u.kind == UpdateKind::trade) {
            const std::size_t sym = index.find(u.topic().substr(std::string_view("trade.").size()))->second;
            const bool buy = u.trade.side == protocol::TradeSide::buy;
            ASSERT_EQ(u.trade.price, buy ? best[sym].second : best[sym].first) << u.topic() << ": not at the best";
            ++first_fills;
        }
        checker.feed(u);
        event_start = sim.buffered_slots() == 0;
        if (event_start) remember();
    }
    EXPECT_GT(first_fills, 30'000u);
    EXPECT_GT(checker.tickers_with_trade, 60'000u);
    EXPECT_EQ(checker.changes, 0u);
}

TEST(SimulatorBooks, BooksWithoutTradesHaveNoTape) {
    SimulatorFeed sim(SimulatorOptions{.symbols = 10, .rate = 1000, .seed = 13, .book_rate = 2000}, 0);
    StreamChecker checker(sim, true);
    std::map<std::string, std::pair<std::int64_t, std::int64_t>> last;
    for (int i = 0; i < 100'000 && !HasFatalFailure(); ++i) {
        const protocol::MarketUpdate u = sim.next_event();
        checker.feed(u);
        ASSERT_NE(u.kind, UpdateKind::trade);
        if (u.kind != UpdateKind::ticker) continue;
        const auto [it, first] = last.try_emplace(std::string(u.topic()), u.last, u.last_size);
        if (!first) {
            EXPECT_EQ(u.last, it->second.first) << u.topic() << ": no trade, no new last";
            EXPECT_EQ(u.last_size, it->second.second) << u.topic();
        }
    }
    EXPECT_EQ(checker.trades, 0u);
    EXPECT_GT(checker.changes, 50'000u);
    EXPECT_GT(checker.tickers_with_book, 25'000u);
}

bool same_but_ts(const protocol::MarketUpdate& a, const protocol::MarketUpdate& b) {
    if (a.topic() != b.topic() || a.seq != b.seq || a.kind != b.kind || a.feed != b.feed ||
        a.price_decimals != b.price_decimals || a.size_decimals != b.size_decimals)
        return false;
    switch (a.kind) {
        case UpdateKind::ticker:
            return a.bid == b.bid && a.bid_size == b.bid_size && a.ask == b.ask && a.ask_size == b.ask_size &&
                   a.last == b.last && a.last_size == b.last_size && a.open_24h == b.open_24h &&
                   a.high_24h == b.high_24h && a.low_24h == b.low_24h && a.volume_24h == b.volume_24h;
        case UpdateKind::book:
            if (a.book.count != b.book.count || a.book.ask_mask != b.book.ask_mask || a.book.flags != b.book.flags)
                return false;
            for (std::size_t k = 0; k < a.book.count; ++k)
                if (a.book.price[k] != b.book.price[k] || a.book.size[k] != b.book.size[k]) return false;
            return true;
        case UpdateKind::trade:
            return a.trade.price == b.trade.price && a.trade.size == b.trade.size &&
                   a.trade.trade_id == b.trade.trade_id && a.trade.side == b.trade.side;
    }
    return false;
}

TEST(SimulatorBooks, SameSeedSameSequence) {
    const SimulatorOptions opt{.symbols = 30, .rate = 1000, .seed = 21, .book_rate = 1000, .trade_rate = 200};
    SimulatorFeed a(opt, 0), b(opt, 0);
    for (int i = 0; i < 200'000; ++i) ASSERT_TRUE(same_but_ts(a.next_event(), b.next_event())) << "slot " << i;
    SimulatorOptions other = opt;
    other.seed = 22;
    SimulatorFeed c(opt, 0), d(other, 0);
    int differing = 0;
    for (int i = 0; i < 10'000; ++i) differing += !same_but_ts(c.next_event(), d.next_event());
    EXPECT_GT(differing, 9'000) << "another seed must give other books and trades";
}

TEST(SimulatorBooks, SchedulesInterleaveByTheirIdealTimes) {
    // Each event is the one of the smallest ideal time events / rate over the three schedules
    // (ties: ticker, book, trade), an order of n fills counting as n trades. A symbol's full book
    // may come first in an event; the event's kind is what follows it.
    const SimulatorOptions configs[] = {
        {.symbols = 20, .rate = 1000, .seed = 1, .book_rate = 1000, .trade_rate = 200},
        {.symbols = 7, .rate = 1000, .seed = 2, .book_rate = 333, .trade_rate = 77.7},
        {.symbols = 5, .rate = 50, .seed = 3, .book_rate = 1000, .trade_rate = 3000},
        {.symbols = 5, .rate = 700, .seed = 4, .trade_rate = 300},
    };
    for (const SimulatorOptions& opt : configs) {
        SCOPED_TRACE("rates " + std::to_string(opt.rate) + " " + std::to_string(opt.book_rate) + " " +
                     std::to_string(opt.trade_rate));
        SimulatorFeed sim(opt, 0);
        const double rate[3] = {opt.rate, opt.book_rate, opt.trade_rate};
        std::uint64_t done[3] = {0, 0, 0};
        std::vector<protocol::MarketUpdate> event;
        for (int e = 0; e < 50'000; ++e) {
            event.clear();
            do event.push_back(sim.next_event());
            while (sim.buffered_slots() > 0);
            std::size_t at = 0;
            if (event[0].kind == UpdateKind::book && (event[0].book.flags & protocol::kBookReset))
                while (!(event[at++].book.flags & protocol::kBookLast)) {}
            ASSERT_LT(at, event.size()) << "an event of a full book only";
            int kind = 0;
            std::uint64_t weight = 1;
            if (event[at].kind == UpdateKind::book) kind = 1;
            if (event[at].kind == UpdateKind::trade) {
                kind = 2;
                weight = static_cast<std::uint64_t>(std::count_if(
                    event.begin(), event.end(), [](const auto& u) { return u.kind == UpdateKind::trade; }));
            }
            int expected = 0;
            for (int k = 1; k < 3; ++k)
                if (rate[k] > 0 && static_cast<double>(done[k]) / rate[k] <
                                       static_cast<double>(done[expected]) / rate[expected])
                    expected = k;
            ASSERT_EQ(kind, expected) << "event " << e;
            done[kind] += weight;
        }
        // So every schedule keeps to its rate: all are within a few events of the same ideal time.
        const double t0 = static_cast<double>(done[0]) / rate[0];
        for (int k = 1; k < 3; ++k) {
            if (rate[k] > 0) {
                EXPECT_NEAR(static_cast<double>(done[k]) / rate[k], t0,
                            (SimulatorFeed::kMaxFillsPerOrder + 1) / std::min(rate[0], rate[k]));
            }
        }
    }
}

TEST(SimulatorBooks, BooksHaveRealisticDepthSpreadAndActivity) {
    SimulatorFeed sim(SimulatorOptions{.symbols = 20, .rate = 1000, .seed = 1, .book_rate = 1000, .trade_rate = 200}, 0);
    StreamChecker checker(sim, true);
    std::vector<double> spread_bp;
    std::vector<std::int64_t> btc_spread;
    std::int64_t btc_mid_low = std::numeric_limits<std::int64_t>::max(), btc_mid_high = 0;
    std::int64_t btc_tick = 0;
    for (int i = 0; i < 300'000 && !HasFatalFailure(); ++i) {
        const protocol::MarketUpdate u = sim.next_event();
        checker.feed(u);
        if (u.kind == UpdateKind::ticker) spread_bp.push_back(1e4 * static_cast<double>(u.ask - u.bid) / u.bid);
        if (sim.buffered_slots() > 0) continue;
        const auto bids = sim.book_side(0, false), asks = sim.book_side(0, true);
        ASSERT_GE(bids.size(), SimulatorFeed::kPublishedDepth) << "BTC bids: deeper than the published 50";
        ASSERT_GE(asks.size(), SimulatorFeed::kPublishedDepth) << "BTC asks";
        ASSERT_LE(bids.size(), SimulatorFeed::kMaxDepth);
        ASSERT_LE(asks.size(), SimulatorFeed::kMaxDepth);
        for (const auto side : {bids, asks})
            for (const auto& l : side) btc_tick = std::gcd(btc_tick, l.price);
        btc_spread.push_back(asks[0].price - bids[0].price);
        const std::int64_t mid = (bids[0].price + asks[0].price) / 2;
        btc_mid_low = std::min(btc_mid_low, mid);
        btc_mid_high = std::max(btc_mid_high, mid);
    }
    std::sort(spread_bp.begin(), spread_bp.end());
    const double median_bp = spread_bp[spread_bp.size() / 2];
    EXPECT_GT(median_bp, 0.2);
    EXPECT_LT(median_bp, 5.0);
    // BTC's levels sit on a $2 grid (half a basis point), its spread a few ticks.
    EXPECT_EQ(btc_tick, 200);
    std::sort(btc_spread.begin(), btc_spread.end());
    EXPECT_GE(btc_spread.front(), btc_tick);
    EXPECT_LE(btc_spread[btc_spread.size() / 2], 5 * btc_tick);
    EXPECT_LE(btc_spread[btc_spread.size() * 99 / 100], 10 * btc_tick);
    // The book follows the walk: its mid moves by more than its depth over the run.
    EXPECT_GT(btc_mid_high - btc_mid_low, 50 * btc_tick);
    // Adds, cancels and size changes, most of them near the top.
    EXPECT_GT(checker.adds, 100'000u);
    EXPECT_GT(checker.removals, 100'000u);
    EXPECT_GT(checker.modifications, 50'000u);
    EXPECT_GT(static_cast<double>(checker.top10_level_changes), 0.4 * static_cast<double>(checker.level_changes));
}

TEST(SimulatorBooks, NextEventAllocatesNothing) {
    SimulatorFeed sim(SimulatorOptions{.symbols = 50, .rate = 1000, .seed = 5, .book_rate = 5000, .trade_rate = 1000}, 0);
    std::uint64_t sum = 0;
    const std::size_t before = allocations();
    for (int i = 0; i < 200'000; ++i) sum += sim.next_event().seq;
    EXPECT_EQ(allocations() - before, 0u) << "the hot path allocated";
    EXPECT_GT(sum, 0u);
}


// tickgate-feed drives the simulator from its publish thread (produce_due): the pacing of run(),
// read off the `now` it is given, so these need no clock.
struct CollectingSink final : UpdateSink {
    void put(const protocol::MarketUpdate& u) override { got.push_back(u); }
    std::vector<protocol::MarketUpdate> got;
};

TEST(SimulatorOnTheConsumersThread, PutsEveryEventDueByNowAndSaysWhenTheNextIsDue) {
    SimulatorFeed sim(SimulatorOptions{.symbols = 4, .rate = 1000, .seed = 9}, 0);
    CollectingSink sink;
    const auto t0 = std::chrono::steady_clock::now();
    // Event k of 1,000/s is due k ms after the first call.
    EXPECT_EQ(sim.produce_due(t0, sink), t0 + 1ms);
    EXPECT_EQ(sink.got.size(), 1u) << "the first event is due at once";
    EXPECT_EQ(sim.produce_due(t0 + 500us, sink), t0 + 1ms);
    EXPECT_EQ(sink.got.size(), 1u) << "nothing is due before 1 ms";
    // A late call (the thread was busy) catches up in one go, not one event per call.
    EXPECT_EQ(sim.produce_due(t0 + 10500us, sink), t0 + 11ms);
    EXPECT_EQ(sink.got.size(), 11u);
    EXPECT_EQ(sim.updates_dropped_late(), 0u);
    SimulatorFeed same(SimulatorOptions{.symbols = 4, .rate = 1000, .seed = 9}, 0);
    for (std::size_t i = 0; i < sink.got.size(); ++i) ASSERT_TRUE(same_but_ts(sink.got[i], same.next_event())) << i;
    // Made together, late, yet each carries when it was due: 1 ms apart, the first of them
    // 9.5 ms before the call's time (the ts clock is read within microseconds of each other).
    for (std::size_t i = 2; i < sink.got.size(); ++i) {
        const std::int64_t gap = sink.got[i].ts_ns - sink.got[i - 1].ts_ns;
        EXPECT_NEAR(static_cast<double>(gap), 1e6, 2e5) << "event " << i;
    }
    EXPECT_NEAR(static_cast<double>(sink.got.back().ts_ns - sink.got[1].ts_ns), 9e6, 3e5);
}

TEST(SimulatorOnTheConsumersThread, AStallPastATenthOfASecondRestartsThePacingAndCountsWhatItSkipped) {
    SimulatorFeed sim(SimulatorOptions{.symbols = 4, .rate = 1000, .seed = 9}, 0);
    CollectingSink sink;
    const auto t0 = std::chrono::steady_clock::now();
    sim.produce_due(t0, sink);
    // 500 events due at 500 ms, above the 100 a tenth of a second allows: the schedule restarts
    // from then with one event, as run() does, rather than sending a burst of 500.
    EXPECT_EQ(sim.produce_due(t0 + 500ms, sink), t0 + 501ms);
    EXPECT_EQ(sink.got.size(), 2u);
    EXPECT_EQ(sim.updates_dropped_late(), 499u);
    EXPECT_EQ(sim.produce_due(t0 + 503ms, sink), t0 + 504ms);
    EXPECT_EQ(sink.got.size(), 5u);
    SimulatorFeed same(SimulatorOptions{.symbols = 4, .rate = 1000, .seed = 9}, 0);
    for (std::size_t i = 0; i < sink.got.size(); ++i)
        ASSERT_TRUE(same_but_ts(sink.got[i], same.next_event())) << "the sequence skips no event, only time: " << i;
}

TEST(SimulatorOnTheConsumersThread, AnEventsFragmentsComeTogetherInTheSequenceOfNextEvent) {
    const SimulatorOptions opt{.symbols = 10, .rate = 1000, .seed = 3, .book_rate = 2000, .trade_rate = 500};
    SimulatorFeed sim(opt, 0);
    // Slots a test took one at a time go out first, so the sequence stays whole.
    const protocol::MarketUpdate first = sim.next_event();
    CollectingSink sink;
    const auto t0 = std::chrono::steady_clock::now();
    for (int ms = 0; ms <= 50; ++ms) {
        const std::size_t before = sink.got.size();
        sim.produce_due(t0 + std::chrono::milliseconds(ms), sink);
        if (before < sink.got.size()) ASSERT_TRUE(sink.got.back().kind != protocol::UpdateKind::book ||
                                                  (sink.got.back().book.flags & protocol::kBookLast))
            << "a call ended inside a book change";
    }
    ASSERT_GT(sink.got.size(), 150u) << "3,500 events/s over 50 ms, books of several fragments";
    SimulatorFeed same(opt, 0);
    ASSERT_TRUE(same_but_ts(first, same.next_event()));
    for (std::size_t i = 0; i < sink.got.size(); ++i) ASSERT_TRUE(same_but_ts(sink.got[i], same.next_event())) << i;
    EXPECT_EQ(sim.buffered_slots(), 0u);
}

}  // namespace
}  // namespace tickgate::feeds
