#include "feeds/simulator_feed.hpp"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string_view>

#include "feeds/pacing.hpp"
#include "feeds/runtime/clock.hpp"

namespace tickgate::feeds {
namespace {

struct RealPair {
    const char* symbol;
    std::int64_t price;  // mantissa at price_decimals
    int price_decimals;
    int size_decimals;
};

// Rough prices of mid-2024; only their magnitude and the number of decimals matter.
constexpr RealPair kRealPairs[] = {
    {"BTC-USD", 6425000, 2, 8},    {"ETH-USD", 312050, 2, 8},     {"SOL-USD", 145250, 3, 6},
    {"XRP-USD", 52340, 5, 6},      {"ADA-USD", 451200, 6, 4},     {"DOGE-USD", 123450, 6, 4},
    {"AVAX-USD", 35120, 3, 6},     {"DOT-USD", 71230, 4, 6},      {"LINK-USD", 145230, 4, 6},
    {"LTC-USD", 84320, 3, 8},      {"BCH-USD", 48015, 2, 8},      {"MATIC-USD", 71230, 5, 4},
    {"ATOM-USD", 84560, 4, 6},     {"UNI-USD", 78120, 4, 6},      {"XLM-USD", 110230, 6, 4},
    {"ETC-USD", 26540, 3, 6},      {"FIL-USD", 58230, 4, 6},      {"NEAR-USD", 61240, 4, 6},
    {"APT-USD", 93120, 4, 6},      {"ARB-USD", 108230, 5, 4},     {"OP-USD", 24120, 4, 6},
    {"SUI-USD", 105230, 5, 4},     {"INJ-USD", 25120, 3, 6},      {"AAVE-USD", 9245, 2, 6},
    {"MKR-USD", 245000, 2, 8},     {"TRX-USD", 123400, 6, 4},     {"ICP-USD", 12345, 3, 6},
    {"HBAR-USD", 78900, 6, 4},     {"ALGO-USD", 182300, 6, 4},    {"SHIB-USD", 2412, 8, 4},
};

constexpr std::int64_t kTypicalTradeUsd = 2000;
// The 24h volume behaves like a moving sum over about this many trades (an exponential decay), so it
// stays near its start instead of growing until it overflows on a long, fast run.
constexpr std::int64_t kVolumeWindowTrades = 100000;
// The books' random stream is seeded from the seed mixed with this ("booksim"), apart from the walk's.
constexpr std::uint64_t kBookSeedMix = 0x626f6f6b73696dULL;
// A spread wider than this many ticks gets a level inside it at the next book change.
constexpr std::int64_t kMaxSpreadTicks = 4;

std::int64_t pow10(int n) noexcept {
    std::int64_t p = 1;
    while (n-- > 0) p *= 10;
    return p;
}

std::uint64_t splitmix64(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

// For the positive prices and ticks of the books.
std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept { return a / b; }
std::int64_t ceil_div(std::int64_t a, std::int64_t b) noexcept { return (a + b - 1) / b; }

// raw rounded down to 1, 2 or 5 times a power of ten.
std::int64_t nice_tick(std::int64_t raw) noexcept {
    std::int64_t p = 1;
    while (p <= raw / 10) p *= 10;
    return raw >= 5 * p ? 5 * p : raw >= 2 * p ? 2 * p : p;
}

std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

}  // namespace

SimulatorFeed::Rng::Rng(std::uint64_t seed) noexcept {
    for (auto& s : s_) s = splitmix64(seed);
}

std::uint64_t SimulatorFeed::Rng::next() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
}

std::int64_t SimulatorFeed::Rng::between(std::int64_t lo, std::int64_t hi) noexcept {
    return lo + static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(hi - lo + 1));
}

SimulatorFeed::SimulatorFeed(const SimulatorOptions& options, std::uint16_t feed_index)
    : feed_index_(feed_index), rng_(options.seed), book_rng_(options.seed ^ kBookSeedMix) {
    schedules_[kTickers].rate = options.rate;
    schedules_[kBooks].rate = options.book_rate;
    schedules_[kTrades].rate = options.trade_rate;
    books_ = options.book_rate > 0 || options.trade_rate > 0;
    publish_books_ = options.book_rate > 0;
    symbols_.reserve(options.symbols);
    for (const RealPair& p : kRealPairs) {
        if (symbols_.size() == options.symbols) break;
        add_symbol(p.symbol, p.price, p.price_decimals, p.size_decimals);
    }
    for (std::uint32_t n = 1; symbols_.size() < options.symbols; ++n) add_synthetic_symbol(n);
    if (books_) {
        // Every book's levels, allocated once: the hot path never allocates.
        book_levels_.resize(symbols_.size() * 2 * kMaxDepth);
        for (Symbol& sym : symbols_) build_book(sym);
    }
}

void SimulatorFeed::add_symbol(std::string pair, std::int64_t price, int price_decimals, int size_decimals) {
    Symbol s;
    s.topic = "ticker." + pair;
    s.price_decimals = static_cast<std::uint8_t>(price_decimals);
    s.size_decimals = static_cast<std::uint8_t>(size_decimals);
    s.anchor = s.mid = price;
    // Size of $2,000 at the start price, in size mantissa units; computed once, in integers.
    const __int128 size = static_cast<__int128>(kTypicalTradeUsd) * pow10(price_decimals) * pow10(size_decimals) / price;
    s.typical_size = std::max<std::int64_t>(1, static_cast<std::int64_t>(size));
    // A plausible 24h range around the start, so the first updates do not all set a new high or low.
    s.high = price + price / 50;
    s.low = price - price / 50;
    s.volume = s.typical_size * kVolumeWindowTrades;
    symbols_.push_back(std::move(s));
}

void SimulatorFeed::add_synthetic_symbol(std::uint32_t number) {
    // A price of d.dd x 10^e for e in [-3, 4] with about five significant digits, like the real ones.
    const int exponent = static_cast<int>(rng_.between(-3, 4));
    const std::int64_t digits = rng_.between(100, 999);
    const int price_decimals = std::clamp(4 - exponent, 2, 8);
    const std::int64_t price = digits * pow10(exponent - 2 + price_decimals);
    // Cheap tokens trade in large quantities: fewer size decimals keep their 24h volume in range.
    const int size_decimals = std::clamp(4 + exponent, 4, 8);
    char pair[32];
    std::snprintf(pair, sizeof pair, "SYM%04u-USD", number);
    add_symbol(pair, price, price_decimals, size_decimals);
}

void SimulatorFeed::step(Symbol& s) {
    // Roughly normal steps of ~3 bp (a sum of four uniforms), pulled gently back to the anchor so a
    // long run neither drifts to zero nor explodes.
    const std::int64_t sigma = std::max<std::int64_t>(1, s.mid * 3 / 10000);
    std::int64_t delta = 0;
    for (int k = 0; k < 4; ++k) delta += rng_.between(-sigma, sigma);
    delta = delta / 2 + (s.anchor - s.mid) / 1000;
    const std::int64_t floor = std::max<std::int64_t>(10, s.anchor / 20);
    s.mid = std::clamp(s.mid + delta, floor, s.anchor * 20);
}

// ---- The merged schedule -------------------------------------------------------------------------

SimulatorFeed::Stream SimulatorFeed::next_stream() const noexcept {
    // The smallest ideal time events / rate; ties go to the lower stream (tickers, books, trades).
    Stream best = kTickers;
    double best_time = static_cast<double>(schedules_[kTickers].events) / schedules_[kTickers].rate;
    for (const Stream st : {kBooks, kTrades}) {
        const Schedule& sc = schedules_[st];
        if (!(sc.rate > 0)) continue;
        const double t = static_cast<double>(sc.events) / sc.rate;
        if (t < best_time) {
            best = st;
            best_time = t;
        }
    }
    return best;
}

void SimulatorFeed::produce_event() {
    const Stream st = next_stream();
    Schedule& sc = schedules_[st];
    Symbol& s = symbols_[sc.next_symbol];
    sc.next_symbol = sc.next_symbol + 1 == symbols_.size() ? 0 : sc.next_symbol + 1;
    const std::int64_t ts = runtime::realtime_ns();
    std::uint64_t weight = 1;
    switch (st) {
        case kTickers:
            if (books_)
                produce_book_ticker(s, ts);
            else
                produce_legacy_ticker(s, ts);
            break;
        case kBooks:
            produce_book_change(s, ts);
            break;
        case kTrades:
            // An order that filled at n levels printed n trades: it takes n turns of the schedule.
            weight = std::max<std::uint64_t>(1, produce_trade(s, ts));
            break;
    }
    sc.events += weight;
}

protocol::MarketUpdate SimulatorFeed::next_event() {
    while (pending_head_ == pending_count_) {
        pending_head_ = pending_count_ = 0;
        produce_event();  // a ticker always yields a slot, so this ends
    }
    return pending_[pending_head_++];
}

protocol::MarketUpdate& SimulatorFeed::new_slot(const Symbol& s, protocol::UpdateKind kind, std::int64_t ts) noexcept {
    assert(pending_count_ < pending_.size() && "kMaxSlotsPerEvent bounds every event");
    protocol::MarketUpdate& u = pending_[pending_count_++];
    u = protocol::MarketUpdate{};
    u.ts_ns = ts;
    u.feed = static_cast<std::uint8_t>(feed_index_);
    u.kind = kind;
    u.price_decimals = s.price_decimals;
    u.size_decimals = s.size_decimals;
    return u;
}

// ---- Tickers -------------------------------------------------------------------------------------

void SimulatorFeed::produce_legacy_ticker(Symbol& s, std::int64_t ts) {
    // The ticker-only simulator, draw for draw: its sequence for a seed must not change.
    step(s);

    protocol::MarketUpdate& u = new_slot(s, protocol::UpdateKind::ticker, ts);
    u.set_topic(s.topic);  // at most "ticker." + 20 chars: always fits
    u.seq = ++s.seq;

    // Half-spread of 0.5 to 1.5 bp, at least one tick: bid < ask, both positive since mid >= 10.
    const std::int64_t half = std::max<std::int64_t>(1, s.mid / 20000) * rng_.between(1, 3);
    u.bid = s.mid - half;
    u.ask = s.mid + half;
    u.bid_size = s.typical_size * rng_.between(10, 500) / 100 + 1;
    u.ask_size = s.typical_size * rng_.between(10, 500) / 100 + 1;
    u.last = rng_.between(u.bid, u.ask);
    u.last_size = s.typical_size * rng_.between(5, 300) / 100 + 1;

    s.high = std::max(s.high, u.last);
    s.low = std::min(s.low, u.last);
    s.volume += u.last_size - s.volume / kVolumeWindowTrades;
    u.open_24h = s.anchor;
    u.high_24h = s.high;
    u.low_24h = s.low;
    u.volume_24h = s.volume;
}

void SimulatorFeed::produce_book_ticker(Symbol& s, std::int64_t ts) {
    // The walk moves the mid the book follows; the ticker reports the book and the tape as they are.
    step(s);
    if (publish_books_ && !s.book_published) emit_full_book(s, ts);

    protocol::MarketUpdate& u = new_slot(s, protocol::UpdateKind::ticker, ts);
    u.set_topic(s.topic);
    u.seq = ++s.seq;
    const std::size_t i = index_of(s);
    if (s.depth[kBid] > 0) {
        u.bid = levels(i, kBid)[0].price;
        u.bid_size = levels(i, kBid)[0].size;
    }
    if (s.depth[kAsk] > 0) {
        u.ask = levels(i, kAsk)[0].price;
        u.ask_size = levels(i, kAsk)[0].size;
    }
    u.last = s.last;
    u.last_size = s.last_size;
    u.open_24h = s.anchor;
    u.high_24h = s.high;
    u.low_24h = s.low;
    u.volume_24h = s.volume;
}

std::string_view SimulatorFeed::pair_of(std::size_t symbol) const noexcept {
    return std::string_view(symbols_[symbol].topic).substr(std::string_view("ticker.").size());
}

std::span<const SimulatorFeed::Level> SimulatorFeed::book_side(std::size_t symbol, bool asks) const noexcept {
    if (!books_) return {};
    const Side side = asks ? kAsk : kBid;
    return {book_levels_.data() + (symbol * 2 + side) * kMaxDepth, symbols_[symbol].depth[side]};
}

// ---- Order books ---------------------------------------------------------------------------------

void SimulatorFeed::build_book(Symbol& s) {
    const std::string_view pair = pair_of(index_of(s));
    s.book_topic = "book.";
    s.book_topic += pair;
    s.trade_topic = "trade.";
    s.trade_topic += pair;
    // Levels sit on a grid of about half a basis point of the start price, rounded down to 1, 2 or
    // 5 times a power of ten: $2 for BTC at $64,250, $0.10 for ETH, one unit for the cheapest.
    s.tick = nice_tick(std::max<std::int64_t>(1, s.anchor / 20000));
    s.last = std::max(s.tick, s.mid / s.tick * s.tick);  // until the first trade: the start price
    s.last_size = s.typical_size;
    s.next_trade_id = 1 + book_rng_.next() % 1'000'000'000'000ULL;
    replenish(s);  // from empty: both sides fill outward from the mid
}

std::int64_t SimulatorFeed::level_size(const Symbol& s, std::size_t depth) noexcept {
    // 0.2 to 3 typical trades, growing with depth (twice that 16 levels down).
    return s.typical_size * book_rng_.between(20, 300) * (16 + static_cast<std::int64_t>(depth)) / 1600 + 1;
}

bool SimulatorFeed::insert_level(Symbol& s, Side side, std::int64_t price, std::int64_t size) noexcept {
    const std::size_t i = index_of(s);
    // Never crossed: a bid stays below the best ask, an ask above the best bid.
    const Side other = side == kBid ? kAsk : kBid;
    if (s.depth[other] > 0) {
        const std::int64_t best_other = levels(i, other)[0].price;
        if (side == kBid ? price >= best_other : price <= best_other) return false;
    }
    if (price <= 0 || size <= 0) return false;
    Level* l = levels(i, side);
    std::uint32_t& n = s.depth[side];
    std::size_t at = 0;
    while (at < n && (side == kBid ? l[at].price > price : l[at].price < price)) ++at;
    if (at < n && l[at].price == price) return false;
    if (n == kMaxDepth) {
        if (at == n) return false;  // deeper than a full side holds
        --n;                        // the deepest level makes room (never one of the published)
    }
    std::memmove(l + at + 1, l + at, (n - at) * sizeof(Level));
    l[at] = Level{price, size};
    ++n;
    return true;
}

void SimulatorFeed::remove_level(Symbol& s, Side side, std::size_t at) noexcept {
    Level* l = levels(index_of(s), side);
    std::uint32_t& n = s.depth[side];
    std::memmove(l + at, l + at + 1, (n - at - 1) * sizeof(Level));
    --n;
}

void SimulatorFeed::recentre(Symbol& s) noexcept {
    // The mid walked: quotes it crossed are cancelled (bids at or above it, asks at or below it),
    // so best bid < mid < best ask. fill_spread and replenish add levels back.
    const std::size_t i = index_of(s);
    while (s.depth[kBid] > 0 && levels(i, kBid)[0].price >= s.mid) remove_level(s, kBid, 0);
    while (s.depth[kAsk] > 0 && levels(i, kAsk)[0].price <= s.mid) remove_level(s, kAsk, 0);
}

void SimulatorFeed::book_activity(Symbol& s) noexcept {
    // One add, cancel or size change within the published depth, most of them near the top: the
    // depth is the smallest of three uniform draws (4 in 10 land in the top 10).
    const std::size_t i = index_of(s);
    const Side side = book_rng_.between(0, 1) == 0 ? kBid : kAsk;
    const std::size_t n = s.depth[side];
    if (n == 0) return;  // replenish refills the side
    const std::int64_t visible = static_cast<std::int64_t>(std::min(n, kPublishedDepth));
    std::int64_t d = book_rng_.between(0, visible - 1);
    d = std::min(d, book_rng_.between(0, visible - 1));
    d = std::min(d, book_rng_.between(0, visible - 1));
    Level* l = levels(i, side);
    Level& at = l[d];
    const std::int64_t op = book_rng_.between(0, 99);
    if (op < 40) {  // an order resized, or some of the level's orders cancelled or added
        std::int64_t size = at.size * book_rng_.between(30, 170) / 100;
        if (size <= 0) size = 1;
        if (size == at.size) ++size;
        at.size = size;
    } else if (op < 70) {  // a new order: at a free tick just better than the level, else on it
        const std::int64_t t = s.tick;
        const std::int64_t dir = side == kBid ? 1 : -1;  // towards the top
        std::int64_t bound;                              // the first price the new level may not take
        if (d > 0) {
            bound = l[d - 1].price;
        } else {
            // At the top: inside the spread, on its side of the mid and of the other side's best.
            const Side other = side == kBid ? kAsk : kBid;
            bound = side == kBid ? ceil_div(s.mid, t) * t : floor_div(s.mid, t) * t;
            if (s.depth[other] > 0) {
                const std::int64_t best_other = levels(i, other)[0].price;
                bound = side == kBid ? std::min(bound, best_other) : std::max(bound, best_other);
            }
        }
        const std::int64_t free_ticks = (bound - at.price) * dir / t - 1;
        if (free_ticks > 0) {
            const std::int64_t price = at.price + dir * t * book_rng_.between(1, std::min<std::int64_t>(free_ticks, 3));
            insert_level(s, side, price, level_size(s, static_cast<std::size_t>(d)));
        } else {
            at.size += level_size(s, static_cast<std::size_t>(d)) / 2 + 1;
        }
    } else {  // the level's orders cancelled
        remove_level(s, side, static_cast<std::size_t>(d));
    }
}

void SimulatorFeed::fill_spread(Symbol& s, bool bids, bool asks) noexcept {
    // A spread wider than kMaxSpreadTicks (a cancelled or filled best, the mid moving away) draws
    // new quotes: up to two, each on the side farther from the mid (of the sides allowed), one to
    // three ticks short of the mid (or of the other side's best, whichever is closer).
    const std::size_t i = index_of(s);
    const std::int64_t t = s.tick;
    for (int round = 0; round < 2; ++round) {
        if (s.depth[kBid] == 0 || s.depth[kAsk] == 0) return;
        const std::int64_t bid = levels(i, kBid)[0].price, ask = levels(i, kAsk)[0].price;
        if ((ask - bid) / t <= kMaxSpreadTicks) return;
        // Ticks a bid may move up, an ask down: below (above) the mid, never crossing.
        const std::int64_t bid_room = bids ? std::min(ceil_div(s.mid, t) - 1, ask / t - 1) - bid / t : 0;
        const std::int64_t ask_room = asks ? ask / t - std::max(floor_div(s.mid, t) + 1, bid / t + 1) : 0;
        Side side;
        if (bid_room >= 1 && ask_room >= 1)
            side = s.mid - bid >= ask - s.mid ? kBid : kAsk;
        else if (bid_room >= 1)
            side = kBid;
        else if (ask_room >= 1)
            side = kAsk;
        else
            return;
        const std::int64_t room = side == kBid ? bid_room : ask_room;
        const std::int64_t move = book_rng_.between(std::max<std::int64_t>(1, room - 2), room);
        const std::int64_t price = side == kBid ? bid + move * t : ask - move * t;
        if (!insert_level(s, side, price, level_size(s, 0))) return;
    }
}

void SimulatorFeed::replenish(Symbol& s) noexcept {
    // Each side is kept at least kMinDepth deep: new levels behind the deepest (or, on an empty
    // side, next to the mid), one to three ticks apart. Bids stop at one tick above zero.
    const std::size_t i = index_of(s);
    const std::int64_t t = s.tick;
    for (const Side side : {kBid, kAsk}) {
        Level* l = levels(i, side);
        const Side other = side == kBid ? kAsk : kBid;
        while (s.depth[side] < kMinDepth) {
            const std::uint32_t n = s.depth[side];
            std::int64_t price;
            if (n == 0) {
                if (side == kBid) {
                    price = (ceil_div(s.mid, t) - 1 - book_rng_.between(0, 1)) * t;
                    if (s.depth[other] > 0) price = std::min(price, levels(i, other)[0].price - t);
                } else {
                    price = (floor_div(s.mid, t) + 1 + book_rng_.between(0, 1)) * t;
                    if (s.depth[other] > 0) price = std::max(price, levels(i, other)[0].price + t);
                }
            } else {
                const std::int64_t gap = 1 + (book_rng_.between(0, 9) < 6 ? 0 : book_rng_.between(1, 2));
                price = l[n - 1].price + (side == kBid ? -gap : gap) * t;
            }
            if (price < t) break;
            l[n] = Level{price, level_size(s, n)};
            ++s.depth[side];
        }
    }
}

void SimulatorFeed::produce_book_change(Symbol& s, std::int64_t ts) {
    if (!s.book_published) emit_full_book(s, ts);
    remember_top(s);
    recentre(s);
    book_activity(s);
    fill_spread(s, true, true);
    replenish(s);
    emit_change(s, ts);
}

// ---- Trades --------------------------------------------------------------------------------------

std::uint64_t SimulatorFeed::produce_trade(Symbol& s, std::int64_t ts) {
    if (publish_books_ && !s.book_published) emit_full_book(s, ts);
    if (publish_books_) remember_top(s);
    const std::size_t i = index_of(s);
    // Buyers press when the walk is above the book's mid, sellers when below: the tape pushes the
    // book after the walk.
    std::int64_t book_mid = s.mid;
    if (s.depth[kBid] > 0 && s.depth[kAsk] > 0) book_mid = (levels(i, kBid)[0].price + levels(i, kAsk)[0].price) / 2;
    const std::int64_t lean = std::clamp<std::int64_t>((s.mid - book_mid) * 10 / s.tick, -30, 30);
    const bool buy = book_rng_.between(0, 99) < 50 + lean;
    const Side resting = buy ? kAsk : kBid;
    Level* l = levels(i, resting);
    // An aggressive order of 0.05 to 2 typical trades: filled at the best level, walking to the
    // next while it is larger, at most kMaxFillsPerOrder levels (the rest is not filled). It
    // never takes a side's last level whole, so a book always has both sides.
    std::int64_t remaining = s.typical_size * book_rng_.between(5, 200) / 100 + 1;
    std::uint64_t fills = 0;
    while (remaining > 0 && fills < kMaxFillsPerOrder && s.depth[resting] > 0) {
        std::int64_t take = std::min(remaining, l[0].size);
        if (take == l[0].size && s.depth[resting] == 1) take = l[0].size - 1;
        if (take <= 0) break;
        const std::int64_t price = l[0].price;
        protocol::MarketUpdate& u = new_slot(s, protocol::UpdateKind::trade, ts);
        u.set_topic(s.trade_topic);
        u.seq = ++s.trade_seq;
        u.trade.price = price;
        u.trade.size = take;
        u.trade.trade_id = s.next_trade_id++;
        u.trade.side = buy ? protocol::TradeSide::buy : protocol::TradeSide::sell;
        ++fills;
        s.last = price;
        s.last_size = take;
        s.high = std::max(s.high, price);
        s.low = std::min(s.low, price);
        s.volume += take - s.volume / kVolumeWindowTrades;
        remaining -= take;
        l[0].size -= take;
        if (l[0].size == 0) remove_level(s, resting, 0);
    }
    if (publish_books_) {
        // Makers answer on the aggressor's side (the price moves the order's way); the side it
        // filled against only deepens, so no level filled here changes again in this change.
        fill_spread(s, buy, !buy);
    } else {
        // No book changes of their own: the book follows the walk here instead.
        recentre(s);
        fill_spread(s, true, true);
    }
    replenish(s);  // behind the deepest level: never at a price just filled
    if (publish_books_) emit_change(s, ts);
    return fills;
}

// ---- Publishing book changes ---------------------------------------------------------------------

void SimulatorFeed::remember_top(Symbol& s) noexcept {
    const std::size_t i = index_of(s);
    for (const Side side : {kBid, kAsk}) {
        before_depth_[side] = std::min<std::size_t>(s.depth[side], kPublishedDepth);
        std::memcpy(before_[side].data(), levels(i, side), before_depth_[side] * sizeof(Level));
    }
}

void SimulatorFeed::emit_change(Symbol& s, std::int64_t ts) {
    // The difference of the top kPublishedDepth per side since remember_top: first a removal for
    // every level that left it (cancelled, filled or pushed below), then the new size of every
    // level that entered it or changed. Removals first, so a consumer holding kPublishedDepth
    // levels never has to hold more while it applies the change.
    const std::size_t i = index_of(s);
    std::size_t count = 0;
    for (const bool removals : {true, false}) {
        for (const Side side : {kBid, kAsk}) {
            const Level* before = before_[side].data();
            const Level* after = levels(i, side);
            const std::size_t nb = before_depth_[side];
            const std::size_t na = std::min<std::size_t>(s.depth[side], kPublishedDepth);
            const auto better = [side](std::int64_t a, std::int64_t b) { return side == kBid ? a > b : a < b; };
            std::size_t b = 0, a = 0;
            while (b < nb || a < na) {
                if (a == na || (b < nb && better(before[b].price, after[a].price))) {
                    if (removals) changes_[count++] = Change{before[b].price, 0, side};
                    ++b;
                } else if (b == nb || better(after[a].price, before[b].price)) {
                    if (!removals) changes_[count++] = Change{after[a].price, after[a].size, side};
                    ++a;
                } else {
                    if (!removals && after[a].size != before[b].size)
                        changes_[count++] = Change{after[a].price, after[a].size, side};
                    ++a;
                    ++b;
                }
            }
        }
    }
    if (count > 0) emit_levels(s, ts, count, false);  // a change nobody can see is no change
}

void SimulatorFeed::emit_full_book(Symbol& s, std::int64_t ts) {
    const std::size_t i = index_of(s);
    std::size_t count = 0;
    for (const Side side : {kBid, kAsk}) {
        const Level* l = levels(i, side);
        for (std::size_t d = 0; d < std::min<std::size_t>(s.depth[side], kPublishedDepth); ++d)
            changes_[count++] = Change{l[d].price, l[d].size, side};
    }
    emit_levels(s, ts, count, true);
    s.book_published = true;
}

void SimulatorFeed::emit_levels(Symbol& s, std::int64_t ts, std::size_t count, bool reset) {
    // One change: kLevelsPerFragment levels per slot, every slot with the change's seq and ts, the
    // first flagged kBookFirst (and kBookReset), the last kBookLast. A reset of an empty book is
    // one empty slot.
    const std::uint64_t seq = ++s.book_seq;
    std::size_t at = 0;
    do {
        protocol::MarketUpdate& u = new_slot(s, protocol::UpdateKind::book, ts);
        u.set_topic(s.book_topic);
        u.seq = seq;
        const std::size_t n = std::min(count - at, protocol::kLevelsPerFragment);
        u.book.count = static_cast<std::uint8_t>(n);
        u.book.ask_mask = 0;
        for (std::size_t k = 0; k < n; ++k) {
            const Change& c = changes_[at + k];
            u.book.price[k] = c.price;
            u.book.size[k] = c.size;
            if (c.side == kAsk) u.book.ask_mask = static_cast<std::uint8_t>(u.book.ask_mask | (1u << k));
        }
        u.book.flags = 0;
        if (at == 0) u.book.flags |= reset ? protocol::kBookFirst | protocol::kBookReset : protocol::kBookFirst;
        at += n;
        if (at == count) u.book.flags |= protocol::kBookLast;
    } while (at < count);
}

// ---- Pacing --------------------------------------------------------------------------------------

void SimulatorFeed::run(std::stop_token stop, UpdateChannel& out) {
    use_precise_timer_slack();
    // Slots left over from next_event() calls go out first, so the sequence stays whole.
    for (; pending_head_ < pending_count_; ++pending_head_)
        if (!out.publish(pending_[pending_head_], stop)) return;
    // Up to this rate a sleep fits between two events, so they go out one per wake-up; a late
    // wake-up (a busy machine) is caught up at 0.6 intervals apart rather than as a burst. Above
    // it, each wake-up publishes every event that is due.
    const bool one_per_wake = pacing_rate() <= 20'000;
    while (!stop.stop_requested()) {
        Clock::time_point next;
        if (!produce_paced(Clock::now(), !one_per_wake, false, next, stop,
                         [&](const protocol::MarketUpdate& u) { return out.publish(u, stop); }))
            return;
        if (!sleep_until_or_stop(stop, next)) return;
    }
}

SimulatorFeed::Clock::time_point SimulatorFeed::produce_due(Clock::time_point now, UpdateSink& sink) {
    // The consumer's thread: it never waits (the sink takes every update), and a wake-up there
    // is the consumer's own, so every event due goes out in it. An event made late (the consumer
    // was busy with other work) carries the ts of when it was due: the delay counts in every
    // latency measured from ts, as it would have in the ring.
    for (; pending_head_ < pending_count_; ++pending_head_) sink.put(pending_[pending_head_]);
    Clock::time_point next;
    produce_paced(now, true, true, next, std::stop_token{}, [&](const protocol::MarketUpdate& u) {
        sink.put(u);
        return true;
    });
    return next;
}

double SimulatorFeed::pacing_rate() const noexcept {
    double total_rate = 0;
    for (const Schedule& sc : schedules_) total_rate += sc.rate;
    return total_rate;
}

void SimulatorFeed::begin_pacing_epoch() noexcept {
    double first = std::numeric_limits<double>::infinity();
    for (const Schedule& sc : schedules_)
        if (sc.rate > 0) first = std::min(first, static_cast<double>(sc.events) / sc.rate);
    for (Schedule& sc : schedules_) {
        if (!(sc.rate > 0)) continue;
        sc.epoch_base = sc.events;
        sc.epoch_offset = static_cast<double>(sc.events) / sc.rate - first;
    }
}

std::uint64_t SimulatorFeed::count_due(double elapsed) noexcept {
    std::uint64_t backlog = 0;
    for (std::size_t st = 0; st < schedules_.size(); ++st) {
        Schedule& sc = schedules_[st];
        if (!(sc.rate > 0)) continue;
        const double t = elapsed - sc.epoch_offset;
        sc.due = t < 0 ? 0 : static_cast<std::uint64_t>(t * sc.rate) + 1;  // time has come
        const std::uint64_t done = sc.events - sc.epoch_base;
        if (sc.due > done) backlog += sc.due - done;
    }
    return backlog;
}

// Event k of a schedule of rate r is due at start + offset + k / r, where the offsets keep the
// schedules where their ideal times (events / rate, see next_stream) put them relative to each
// other. When publishing stalls (a full ring, a descheduled thread) for more than a tenth of a
// second, the schedules restart from now instead of catching up in one large burst; the events
// skipped are counted, so a short delivery shows up in tickgate_feed_updates_dropped_late_total
// rather than as a mystery. The sequence itself does not change: a restart only moves when the
// next events go out. (With tickers alone this is exactly the pacing of the ticker-only feed.)
template <class Put>
bool SimulatorFeed::produce_paced(Clock::time_point now, bool all_due, bool ts_when_due, Clock::time_point& next,
                                  const std::stop_token& stop, Put&& put) {
    using Seconds = std::chrono::duration<double>;
    const double total_rate = pacing_rate();
    if (!pacing_started_) {
        pacing_started_ = true;
        pacing_start_ = now;
        begin_pacing_epoch();
    }
    const auto backlog_cap = static_cast<std::uint64_t>(std::max(1.0, total_rate / 10));
    if (const std::uint64_t backlog = count_due(Seconds(now - pacing_start_).count()); backlog > backlog_cap) {
        dropped_late_.fetch_add(backlog - 1, std::memory_order_relaxed);
        pacing_start_ = now;
        begin_pacing_epoch();
        count_due(0);
    }
    for (std::uint64_t n = 0; all_due || n < 1; ++n) {
        const Stream st = next_stream();
        const Schedule& due_sc = schedules_[st];
        if (due_sc.events - due_sc.epoch_base >= due_sc.due) break;
        const auto due_at = pacing_start_ + std::chrono::duration_cast<Clock::duration>(Seconds(
                                                static_cast<double>(due_sc.events - due_sc.epoch_base) / due_sc.rate +
                                                due_sc.epoch_offset));
        pending_head_ = pending_count_ = 0;
        produce_event();
        if (ts_when_due && now > due_at) {
            const auto late = std::chrono::duration_cast<std::chrono::nanoseconds>(now - due_at).count();
            for (std::size_t i = 0; i < pending_count_; ++i) pending_[i].ts_ns -= late;
        }
        for (; pending_head_ < pending_count_; ++pending_head_)
            if (!put(pending_[pending_head_])) return false;
        if ((++pacing_published_ & 1023) == 0 && stop.stop_requested()) return false;
    }
    const Schedule& sc = schedules_[next_stream()];
    next = pacing_start_ + std::chrono::duration_cast<Clock::duration>(Seconds(
                               static_cast<double>(sc.events - sc.epoch_base) / sc.rate + sc.epoch_offset));
    if (!all_due) next = std::max(next, now + std::chrono::duration_cast<Clock::duration>(Seconds(0.6 / total_rate)));
    return true;
}

}  // namespace tickgate::feeds
