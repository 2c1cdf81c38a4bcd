// Order-book costs of protocol/ (issue 13): a book delta's encoding and its checksum, measured
// apart; one level change applied to a 50-level book; the view diff the gateway runs per change;
// the snapshot a subscriber gets first; a trade's encoding.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "protocol/messages.hpp"
#include "protocol/model/market_update.hpp"
#include "protocol/model/order_book.hpp"

namespace tp = tickgate::protocol;
using tp::BookSide;
using tp::OrderBook;
using tp::PriceLevel;

namespace {

constexpr std::int64_t kBestBid = 6499950;  // 64999.50
constexpr std::int64_t kBestAsk = 6500000;  // 65000.00
constexpr std::int64_t kTick = 50;          // 0.50

/// A BTC-USD book, `depth` levels per side one tick apart, sizes 0.0100 .. 4.9999.
OrderBook btc_book(std::size_t depth) {
    OrderBook b(2, 4);
    std::mt19937_64 rng(7);
    for (std::size_t i = 0; i < depth; ++i) {
        b.apply(BookSide::bid, kBestBid - kTick * static_cast<std::int64_t>(i), 100 + static_cast<std::int64_t>(rng() % 49900));
        b.apply(BookSide::ask, kBestAsk + kTick * static_cast<std::int64_t>(i), 100 + static_cast<std::int64_t>(rng() % 49900));
    }
    return b;
}

// A typical delta: two bid levels (one changed, one removed) and one ask level.
void BM_EncodeBookDelta3(benchmark::State& state) {
    const std::vector<PriceLevel> bids{{6499950, 2500}, {6499900, 0}};
    const std::vector<PriceLevel> asks{{6500050, 31000}};
    tp::BookMessage m;
    m.type = "book";
    m.topic = "book.BTC-USD";
    m.seq = 18446744;
    m.prev_seq = m.seq - 1;
    m.ts_ns = 1764090000123456789;
    m.bids = bids;
    m.asks = asks;
    m.checksum = 2541449844u;
    std::string out;
    out.reserve(512);
    for (auto _ : state) {
        out.clear();
        tp::encode_book(m, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
        m.prev_seq = m.seq++;
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
    state.counters["bytes"] = static_cast<double>(out.size());
}
BENCHMARK(BM_EncodeBookDelta3);

// The checksum of a view's state after a change: the first 10 levels per side (of a 50-level book).
void BM_BookChecksum(benchmark::State& state) {
    const OrderBook b = btc_book(50);
    for (auto _ : state) {
        benchmark::DoNotOptimize(b.checksum());
        benchmark::ClobberMemory();
    }
    state.counters["string_bytes"] = static_cast<double>(b.checksum_string().size());
}
BENCHMARK(BM_BookChecksum);

// zlib's crc32 alone, of the same string already in memory: the floor under BM_BookChecksum.
void BM_Crc32OfChecksumString(benchmark::State& state) {
    const std::string text = btc_book(50).checksum_string();
    for (auto _ : state) {
        benchmark::DoNotOptimize(tp::checksum_of(text));
        benchmark::ClobberMemory();
    }
    state.counters["string_bytes"] = static_cast<double>(text.size());
}
BENCHMARK(BM_Crc32OfChecksumString);

struct Change {
    BookSide side;
    std::int64_t price;
    std::int64_t size;
};

/// A cycle of changes to a 50-level book (both sides) that keeps the depth at 49-50 per side and
/// returns the book to where it started: N random changes (half modifies, the rest alternating
/// removals and insertions, each at a random rank), then their inverses in reverse order. `kinds`
/// restricts the mix: 0 all, 1 modifies only.
std::vector<Change> change_cycle(const OrderBook& start, int kinds) {
    std::mt19937_64 rng(13);
    OrderBook b = start;
    std::vector<Change> forward;
    std::vector<Change> inverse;
    for (int n = 0; n < 2048; ++n) {
        const BookSide s = (rng() & 1) ? BookSide::ask : BookSide::bid;
        const auto levels = b.levels(s);
        Change c{s, 0, 0};
        Change undo{s, 0, 0};
        const bool modify = kinds == 1 || (rng() & 1);
        if (modify) {
            const auto& l = levels[rng() % levels.size()];
            c.price = l.price;
            c.size = 100 + static_cast<std::int64_t>(rng() % 49900);
            undo = {s, l.price, l.size};
        } else if (levels.size() == tp::kMaxBookDepth) {
            const auto& l = levels[rng() % levels.size()];
            c.price = l.price;
            undo = {s, l.price, l.size};
        } else {
            // A free tick between the best and one past the worst: a random rank.
            const std::int64_t dir = s == BookSide::bid ? -1 : 1;
            const std::int64_t best = s == BookSide::bid ? kBestBid : kBestAsk;
            for (;;) {
                const std::int64_t p = best + dir * kTick * static_cast<std::int64_t>(rng() % 60);
                bool present = false;
                for (const auto& l : levels) present |= l.price == p;
                if (!present) {
                    c.price = p;
                    break;
                }
            }
            c.size = 100 + static_cast<std::int64_t>(rng() % 49900);
            undo = {s, c.price, 0};
        }
        b.apply(c.side, c.price, c.size);
        forward.push_back(c);
        inverse.push_back(undo);
    }
    forward.insert(forward.end(), inverse.rbegin(), inverse.rend());
    return forward;
}

bool same_book(const OrderBook& a, const OrderBook& b) {
    for (const BookSide s : {BookSide::bid, BookSide::ask}) {
        const auto x = a.levels(s);
        const auto y = b.levels(s);
        if (x.size() != y.size()) return false;
        for (std::size_t i = 0; i < x.size(); ++i) {
            if (x[i].price != y[i].price || x[i].size != y[i].size) return false;
        }
    }
    return true;
}

// One level change applied to a 50-level book. Arg 0: the mix (modify / insert / remove at random
// ranks); arg 1: modifies only.
void BM_BookApply(benchmark::State& state) {
    const OrderBook start = btc_book(50);
    const auto cycle = change_cycle(start, static_cast<int>(state.range(0)));
    OrderBook b = start;
    for (const Change& c : cycle) b.apply(c.side, c.price, c.size);
    if (!same_book(b, start)) {
        state.SkipWithError("the change cycle does not return the book to its start");
        return;
    }
    std::size_t i = 0;
    for (auto _ : state) {
        const Change& c = cycle[i];
        b.apply(c.side, c.price, c.size);
        benchmark::ClobberMemory();
        if (++i == cycle.size()) i = 0;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_BookApply)->ArgName("modify_only")->Arg(0)->Arg(1);

// The gateway's diff of one view after a typical change: one level's size within the top 5 changed.
// Arg: the view's depth (10: book, 50: book50).
void BM_DiffViewOneLevel(benchmark::State& state) {
    const auto depth = static_cast<std::size_t>(state.range(0));
    OrderBook b = btc_book(50);
    std::vector<PriceLevel> before;
    tp::copy_levels(b.levels(BookSide::bid), depth, before);
    b.apply(BookSide::bid, kBestBid - 3 * kTick, 12345);
    std::vector<PriceLevel> out;
    out.reserve(2 * tp::kMaxBookDepth);
    for (auto _ : state) {
        out.clear();
        tp::diff_view(BookSide::bid, before, b.levels(BookSide::bid), depth, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    if (out.size() != 1) state.SkipWithError("expected a one-level delta");
}
BENCHMARK(BM_DiffViewOneLevel)->ArgName("depth")->Arg(10)->Arg(50);

// What the gateway keeps before applying a change (the before-state of the views): both sides' 50.
void BM_CopyLevels50(benchmark::State& state) {
    const OrderBook b = btc_book(50);
    std::vector<PriceLevel> bids;
    std::vector<PriceLevel> asks;
    bids.reserve(tp::kMaxBookDepth);
    asks.reserve(tp::kMaxBookDepth);
    for (auto _ : state) {
        tp::copy_levels(b.levels(BookSide::bid), tp::kMaxBookDepth, bids);
        tp::copy_levels(b.levels(BookSide::ask), tp::kMaxBookDepth, asks);
        benchmark::DoNotOptimize(bids.data());
        benchmark::DoNotOptimize(asks.data());
        benchmark::ClobberMemory();
    }
}
BENCHMARK(BM_CopyLevels50);

// Merging a slow client's pending deltas: a 20-level merged delta and a new 3-level one.
void BM_MergeLevels(benchmark::State& state) {
    std::vector<PriceLevel> base;
    for (std::int64_t i = 0; i < 20; ++i) base.push_back({kBestBid - kTick * 2 * i, 100 + i});
    const std::vector<PriceLevel> newer{{kBestBid + kTick, 5}, {kBestBid - kTick * 6, 0}, {kBestBid - kTick * 7, 9}};
    std::vector<PriceLevel> merged;
    merged.reserve(64);
    for (auto _ : state) {
        merged.assign(base.begin(), base.end());
        tp::merge_levels(BookSide::bid, merged, newer);
        benchmark::DoNotOptimize(merged.data());
        benchmark::ClobberMemory();
    }
}
BENCHMARK(BM_MergeLevels);

// A subscriber's first message: the snapshot of a view. Arg: the view's depth.
void BM_EncodeBookSnapshot(benchmark::State& state) {
    const auto depth = static_cast<std::size_t>(state.range(0));
    const OrderBook b = btc_book(50);
    const char* type = depth == 10 ? "book" : "book50";
    const char* topic = depth == 10 ? "book.BTC-USD" : "book50.BTC-USD";
    std::string out;
    out.reserve(8192);
    std::uint64_t seq = 18446744;
    for (auto _ : state) {
        out.clear();
        tp::encode_book_snapshot(type, topic, seq++, 1764090000123456789, b, depth, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.counters["bytes"] = static_cast<double>(out.size());
}
BENCHMARK(BM_EncodeBookSnapshot)->ArgName("depth")->Arg(10)->Arg(50);

void BM_EncodeTrade(benchmark::State& state) {
    tp::MarketUpdate u;
    u.kind = tp::UpdateKind::trade;
    u.set_topic("trade.BTC-USD");
    u.seq = 18446744;
    u.ts_ns = 1764090000123456789;
    u.trade.price = 6499975;
    u.trade.size = 100;
    u.trade.trade_id = 987654321;
    u.trade.side = tp::TradeSide::buy;
    std::string out;
    out.reserve(512);
    for (auto _ : state) {
        out.clear();
        tp::encode_trade(u, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
        ++u.seq;
        ++u.trade.trade_id;
    }
}
BENCHMARK(BM_EncodeTrade);

}  // namespace
