#pragma once
// The built-in market simulator (--feed sim): a random walk per crypto pair, published at a steady
// rate. Real pairs come first with plausible prices and decimals; beyond them, synthetic pairs of
// the same form (SYM0001-USD, ...) so load tests can ask for any number of topics.
//
// With --book-rate or --trade-rate above 0 each symbol also has an L2 order book around its walk
// and a trade tape (topics book.<SYM> and trade.<SYM>), and its ticker reports the book's best
// levels and the last trade. The three schedules (tickers, book changes, trades) are merged by
// their ideal due times, so the sequence depends on the seed only, never on the wall clock.

#include <array>
#include <atomic>
#include <cstdint>
#include <span>
#include <string_view>
#include <string>
#include <vector>

#include "feeds/feed_adapter.hpp"

namespace tickgate::feeds {

class SimulatorFeed final : public FeedAdapter {
public:
    /// Levels per side the simulator publishes (book.<SYM> carries the top this many).
    static constexpr std::size_t kPublishedDepth = 50;
    /// Levels per side a book holds internally: kept between kMinDepth and kMaxDepth.
    static constexpr std::size_t kMinDepth = 56;
    static constexpr std::size_t kMaxDepth = 64;
    /// Levels one aggressor order executes against at most (one trade each).
    static constexpr std::size_t kMaxFillsPerOrder = 3;

    /// options.symbols must be at least 1, options.rate positive, book_rate and trade_rate finite
    /// and >= 0 (make_feed checks all of them).
    SimulatorFeed(const SimulatorOptions& options, std::uint16_t feed_index);

    const std::string& name() const override { return name_; }

    /// Publishes the merged schedule (see next_event) paced by absolute deadlines: event k of a
    /// schedule of rate r is due k / r after the start, so sleeping late does not shift later
    /// ones. All slots of one event (a book change of many fragments, an order's trades and the
    /// book change they cause) go out back to back. Runs until stop is requested.
    void run(std::stop_token stop, UpdateChannel& out) override;
    /// The same pacing, driven from the consumer's thread (see FeedAdapter::produce_due): every
    /// event due by `now`, however many, each with the ts of when it was due, and when the next
    /// one is due.
    bool can_run_on_consumer_thread() const noexcept override { return true; }
    Clock::time_point produce_due(Clock::time_point now, UpdateSink& sink) override;
    std::uint64_t updates_dropped_late() const noexcept override {
        return dropped_late_.load(std::memory_order_relaxed);
    }

    /// The next ring slot of the deterministic sequence, ts set to when its event was produced.
    /// Events come from three schedules: tickers at options.rate, book changes at book_rate and
    /// trades at trade_rate (each over all symbols, symbols taking turns). Event k of a schedule
    /// of rate r has the ideal time k / r; the next event is the one of the smallest ideal time
    /// (ties: ticker, then book, then trade), where an order that fills at n levels counts as n
    /// trades. An event is one or more slots, returned one per call:
    /// - ticker: one ticker.<SYM> slot;
    /// - book change: the book.<SYM> fragments of the change to the symbol's top kPublishedDepth
    ///   levels per side (removals first, then new sizes);
    /// - trade: one trade.<SYM> slot per level the order filled at (the aggressor's order walks at
    ///   most kMaxFillsPerOrder levels), then (books on) the book change they caused: the levels
    ///   filled, new quotes on the aggressor's side if the spread opened, levels promoted into the
    ///   top 50. So book.<SYM> carries book_rate changes per second plus one per order.
    /// With book_rate on, the first event that touches a symbol is preceded by the symbol's full
    /// book (kBookFirst | kBookReset, book seq 1). With both rates 0 this is exactly the ticker
    /// sequence the simulator always had. Not thread-safe; run() calls it.
    protocol::MarketUpdate next_event();
    /// The name from before books; the same as next_event().
    protocol::MarketUpdate next_update() { return next_event(); }

    std::size_t symbol_count() const noexcept { return symbols_.size(); }

    /// A price level of a simulated book.
    struct Level {
        std::int64_t price;  // mantissa at price_decimals, a multiple of the symbol's tick
        std::int64_t size;   // mantissa at size_decimals, > 0
    };
    /// Tests: symbol i's pair ("BTC-USD"), and its book side as it is now, best first: every level
    /// held, of which the first kPublishedDepth are published. Empty with books off.
    std::string_view pair_of(std::size_t symbol) const noexcept;
    std::span<const Level> book_side(std::size_t symbol, bool asks) const noexcept;
    /// Tests: slots of the current event not returned by next_event() yet (0: at an event boundary).
    std::size_t buffered_slots() const noexcept { return pending_count_ - pending_head_; }
    /// Slots one event produces at most (the size of the internal buffer).
    static constexpr std::size_t kMaxSlotsPerEvent =
        (2 * kPublishedDepth + protocol::kLevelsPerFragment - 1) / protocol::kLevelsPerFragment  // a full book
        + kMaxFillsPerOrder                                                                       // trades
        + (4 * kPublishedDepth + protocol::kLevelsPerFragment - 1) / protocol::kLevelsPerFragment  // a change
        + 1;                                                                                       // a ticker

private:
    enum Side : std::uint8_t { kBid = 0, kAsk = 1 };

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

        // Books and trades (only with book_rate or trade_rate on).
        std::string book_topic, trade_topic;
        std::int64_t tick = 1;          // price grid of the book's levels
        std::int64_t last = 0, last_size = 0;
        std::uint64_t book_seq = 0, trade_seq = 0, next_trade_id = 0;
        std::uint32_t depth[2] = {0, 0};  // levels held per side (Side)
        bool book_published = false;      // its full book went out (book_rate on)
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

    // One of the three merged schedules.
    enum Stream : std::uint8_t { kTickers = 0, kBooks = 1, kTrades = 2 };
    struct Schedule {
        double rate = 0;           // events per second; 0: off
        std::uint64_t events = 0;  // produced since the start (a multi-fill order counts each fill)
        std::size_t next_symbol = 0;
        // Pacing (produce_paced): events produced since the current pacing epoch began, this
        // schedule's first due time in the epoch, in seconds after its start, and the events
        // of the epoch whose time has come.
        std::uint64_t epoch_base = 0;
        double epoch_offset = 0;
        std::uint64_t due = 0;
    };

    void add_symbol(std::string pair, std::int64_t price, int price_decimals, int size_decimals);
    void add_synthetic_symbol(std::uint32_t number);
    void step(Symbol& s);

    Stream next_stream() const noexcept;
    /// Events per second over the three schedules.
    double pacing_rate() const noexcept;
    /// A pacing epoch starts now: the schedules keep their relative offsets (see produce_paced).
    void begin_pacing_epoch() noexcept;
    /// Sets each schedule's due count at `elapsed` seconds into the epoch; returns the backlog.
    std::uint64_t count_due(double elapsed) noexcept;
    /// Puts the next event due by `now` (every one with all_due) through put(update) -> bool,
    /// and sets `next` to when the one after is due. False when put refused or stop came. With
    /// ts_when_due, an event made after its due time has that time as its ts, not now.
    template <class Put>
    bool produce_paced(Clock::time_point now, bool all_due, bool ts_when_due, Clock::time_point& next,
                       const std::stop_token& stop, Put&& put);
    /// Appends the next event's slots to the buffer (which must be empty) and counts the event.
    void produce_event();
    void produce_legacy_ticker(Symbol& s, std::int64_t ts);
    void produce_book_ticker(Symbol& s, std::int64_t ts);
    void produce_book_change(Symbol& s, std::int64_t ts);
    /// Returns the number of fills (trades), 0 when the book had nothing to fill against.
    std::uint64_t produce_trade(Symbol& s, std::int64_t ts);

    // The order books: one arena, kMaxDepth levels per side per symbol, best first (2 KiB a
    // symbol, allocated at construction and only with books or trades on).
    Level* levels(std::size_t symbol, Side side) noexcept {
        return book_levels_.data() + (symbol * 2 + side) * kMaxDepth;
    }
    std::size_t index_of(const Symbol& s) const noexcept { return static_cast<std::size_t>(&s - symbols_.data()); }
    void build_book(Symbol& s);
    std::int64_t level_size(const Symbol& s, std::size_t depth) noexcept;
    bool insert_level(Symbol& s, Side side, std::int64_t price, std::int64_t size) noexcept;
    void remove_level(Symbol& s, Side side, std::size_t at) noexcept;
    void recentre(Symbol& s) noexcept;
    void book_activity(Symbol& s) noexcept;
    void fill_spread(Symbol& s, bool bids, bool asks) noexcept;
    void replenish(Symbol& s) noexcept;

    // Publishing a change: the top kPublishedDepth before it, then the difference after it.
    void remember_top(Symbol& s) noexcept;
    void emit_change(Symbol& s, std::int64_t ts);
    void emit_full_book(Symbol& s, std::int64_t ts);
    void emit_levels(Symbol& s, std::int64_t ts, std::size_t count, bool reset);
    protocol::MarketUpdate& new_slot(const Symbol& s, protocol::UpdateKind kind, std::int64_t ts) noexcept;

    std::string name_ = "sim";
    std::uint16_t feed_index_;
    Rng rng_;        // the tickers' walk, and everything of the ticker-only simulator
    Rng book_rng_;   // books and trades: a stream of its own, so rates 0 leave rng_'s sequence alone
    std::vector<Symbol> symbols_;
    std::array<Schedule, 3> schedules_{};
    bool books_ = false;    // books and trades are simulated (book_rate or trade_rate above 0)
    bool publish_books_ = false;  // book changes are published (book_rate above 0)
    std::vector<Level> book_levels_;

    // Preallocated scratch of the hot path.
    struct Change {
        std::int64_t price, size;
        Side side;
    };
    std::array<std::array<Level, kPublishedDepth>, 2> before_{};
    std::array<std::size_t, 2> before_depth_{};
    std::array<Change, 4 * kPublishedDepth> changes_{};
    std::array<protocol::MarketUpdate, kMaxSlotsPerEvent> pending_{};
    std::size_t pending_head_ = 0, pending_count_ = 0;

    bool pacing_started_ = false;
    Clock::time_point pacing_start_{};   // the current pacing epoch's start
    std::uint64_t pacing_published_ = 0;  // events produced by the pacing (for its stop checks)
    std::atomic<std::uint64_t> dropped_late_{0};
};

}  // namespace tickgate::feeds
