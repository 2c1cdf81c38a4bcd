#include "feeds/simulator_feed.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

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
    : feed_index_(feed_index), rate_(options.rate), rng_(options.seed) {
    symbols_.reserve(options.symbols);
    for (const RealPair& p : kRealPairs) {
        if (symbols_.size() == options.symbols) break;
        add_symbol(p.symbol, p.price, p.price_decimals, p.size_decimals);
    }
    for (std::uint32_t n = 1; symbols_.size() < options.symbols; ++n) add_synthetic_symbol(n);
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

protocol::MarketUpdate SimulatorFeed::next_update() {
    Symbol& s = symbols_[next_symbol_];
    next_symbol_ = next_symbol_ + 1 == symbols_.size() ? 0 : next_symbol_ + 1;
    step(s);

    protocol::MarketUpdate u;
    u.feed = feed_index_;
    u.set_topic(s.topic);  // at most "ticker." + 20 chars: always fits
    u.seq = ++s.seq;
    u.price_decimals = s.price_decimals;
    u.size_decimals = s.size_decimals;

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
    u.ts_ns = runtime::realtime_ns();
    return u;
}

void SimulatorFeed::run(std::stop_token stop, UpdateChannel& out) {
    using Clock = std::chrono::steady_clock;
    using Seconds = std::chrono::duration<double>;
    use_precise_timer_slack();
    // Update k of the current schedule is due at start + k / rate. When publishing stalls (a full
    // ring, a descheduled thread) for more than a tenth of a second, the schedule restarts instead
    // of catching up in one large burst; the updates skipped are counted, so a short delivery
    // shows up in tickgate_feed_updates_dropped_late_total rather than as a mystery.
    const auto backlog_cap = static_cast<std::uint64_t>(std::max(1.0, rate_ / 10));
    // Up to this rate a sleep fits between two updates, so they go out one per wake-up; a late
    // wake-up (a busy machine) is caught up at 0.6 intervals apart rather than as a burst. Above
    // it, each wake-up publishes every update that is due.
    const bool one_per_wake = rate_ <= 20'000;
    const auto min_gap = std::chrono::duration_cast<Clock::duration>(Seconds(0.6 / rate_));
    auto start = Clock::now();
    std::uint64_t k = 0;
    while (!stop.stop_requested()) {
        const auto now = Clock::now();
        auto due = static_cast<std::uint64_t>(Seconds(now - start).count() * rate_) + 1;  // time has come
        if (due - k > backlog_cap) {
            dropped_late_.fetch_add(due - 1 - k, std::memory_order_relaxed);
            start = now;
            k = 0;
            due = 1;
        }
        for (const std::uint64_t end = one_per_wake ? std::min(due, k + 1) : due; k < end; ++k) {
            if (!out.publish(next_update(), stop)) return;
            if ((k & 1023) == 1023 && stop.stop_requested()) return;
        }
        auto next = start + std::chrono::duration_cast<Clock::duration>(Seconds(static_cast<double>(k) / rate_));
        if (one_per_wake) next = std::max(next, now + min_gap);
        if (!sleep_until_or_stop(stop, next)) return;
    }
}

}  // namespace tickgate::feeds
