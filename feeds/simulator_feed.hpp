#pragma once
// The built-in market simulator (--feed sim): a random walk per crypto pair, published at a steady
// rate. Real pairs come first with plausible prices and decimals; beyond them, synthetic pairs of
// the same form (SYM0001-USD, ...) so load tests can ask for any number of topics.

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "feeds/feed_adapter.hpp"

namespace tickgate::feeds {

class SimulatorFeed final : public FeedAdapter {
public:
    /// options.symbols must be at least 1 and options.rate positive (make_feed checks both).
    SimulatorFeed(const SimulatorOptions& options, std::uint16_t feed_index);

    const std::string& name() const override { return name_; }

    /// Publishes next_update() at options.rate per second, evenly spaced by absolute deadlines
    /// (so sleeping late does not shift later updates), until stop is requested.
    void run(std::stop_token stop, UpdateChannel& out) override;
    std::uint64_t updates_dropped_late() const noexcept override {
        return dropped_late_.load(std::memory_order_relaxed);
    }

    /// The next update of the deterministic sequence, ts set to now. Symbols take turns, so each
    /// topic gets rate / symbols updates per second. Not thread-safe; run() calls it.
    protocol::MarketUpdate next_update();

    std::size_t symbol_count() const noexcept { return symbols_.size(); }

private:
    // Every price is a mantissa at the symbol's price_decimals: the walk itself is integer arithmetic.
    struct Symbol {
        std::string topic;
        std::uint8_t price_decimals = 2;
        std::uint8_t size_decimals = 4;
        std::int64_t anchor = 0;        // start mid: the walk reverts toward it, and it is open_24h
        std::int64_t mid = 0;
        std::int64_t typical_size = 1;  // mantissa of a typical trade (about $2,000 worth)
        std::int64_t high = 0, low = 0, volume = 0;
        std::uint64_t seq = 0;
    };

    // xoshiro256**: tiny, fast, and the same numbers with every standard library (std::
    // distributions are not specified bit for bit, so the simulator draws its own).
    class Rng {
    public:
        explicit Rng(std::uint64_t seed) noexcept;
        std::uint64_t next() noexcept;
        /// Uniform in [lo, hi] (hi - lo small enough that modulo bias does not matter here).
        std::int64_t between(std::int64_t lo, std::int64_t hi) noexcept;

    private:
        std::uint64_t s_[4];
    };

    void add_symbol(std::string pair, std::int64_t price, int price_decimals, int size_decimals);
    void add_synthetic_symbol(std::uint32_t number);
    void step(Symbol& s);

    std::string name_ = "sim";
    std::uint16_t feed_index_;
    double rate_;
    Rng rng_;
    std::vector<Symbol> symbols_;
    std::size_t next_symbol_ = 0;
    std::atomic<std::uint64_t> dropped_late_{0};
};

}  // namespace tickgate::feeds
