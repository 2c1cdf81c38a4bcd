#pragma once
// The normalized update every feed produces and the ring carries: a ticker tick, one fragment of an
// order-book change, or one trade, of one topic. Plain data, exactly two cache lines, so the ring
// copies it without touching the heap, whatever its kind.
// It lives in protocol/ (the bottom layer) because the codecs read and write it: feeds/ and the
// gateway include it from here, and protocol/ never has to include anything above itself.
//
// A book change of more levels than one fragment holds (a full book after a reset) travels as
// consecutive fragments of one producer lane, which the ring keeps in order: all carry the change's
// seq and ts, the first has kBookFirst (and kBookReset when the book is to be cleared first), the
// last has kBookLast. A consumer applies the levels as they come and acts on the change at the last.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace tickgate::protocol {

/// Longest topic ("<channel>.<symbol>") a feed may publish; longer ones are rejected at the source.
inline constexpr std::size_t kMaxTopicLength = 27;

enum class UpdateKind : std::uint8_t {
    ticker = 0,  // topic ticker.<SYM>: the ticker fields
    book = 1,    // topic book.<SYM>: levels of the symbol's source book (BookFragment)
    trade = 2,   // topic trade.<SYM>: one trade (TradeFields)
    // A client's message in a room (chat.lobby): never in the ring (its data has any size; see
    // published_message.hpp). The gateway gives it this kind, seq and ts only, on its way from the
    // broadcast engine to the workers; its body is the frame.
    published = 3,
    // Not an update: the feed's seq space starts anew (a new publisher epoch on the bus; see
    // protocol/epoch.hpp). `seq` carries the epoch, `feed` the feed; no topic. Every update of the
    // feed after it in the ring belongs to the new epoch.
    epoch = 4,
};

/// Levels one ring slot carries.
inline constexpr std::size_t kLevelsPerFragment = 4;

/// Flags of a BookFragment.
inline constexpr std::uint8_t kBookFirst = 1;  // first fragment of a change
inline constexpr std::uint8_t kBookLast = 2;   // last fragment of a change: the change is complete
inline constexpr std::uint8_t kBookReset = 4;  // (with kBookFirst) the book is cleared before this change

/// Up to kLevelsPerFragment level changes: each sets a price level's total size, 0 removes it.
struct BookFragment {
    std::int64_t price[kLevelsPerFragment];  // mantissas at price_decimals
    std::int64_t size[kLevelsPerFragment];   // mantissas at size_decimals; 0 removes the level
    std::uint8_t count;                      // levels used, [0, kLevelsPerFragment]
    std::uint8_t ask_mask;                   // bit i set: level i is an ask, clear: a bid
    std::uint8_t flags;                      // kBookFirst | kBookLast | kBookReset
};

enum class TradeSide : std::uint8_t { buy = 0, sell = 1 };  // the aggressor's side

struct TradeFields {
    std::int64_t price;     // mantissa at price_decimals
    std::int64_t size;      // mantissa at size_decimals
    std::uint64_t trade_id;  // the source's id, independent of seq
    TradeSide side;
};

struct alignas(64) MarketUpdate {
    // Zeroes the ticker fields, which cover the other kinds' bodies as well.
    MarketUpdate() noexcept
        : bid(0), bid_size(0), ask(0), ask_size(0), last(0), last_size(0), open_24h(0), high_24h(0), low_24h(0),
          volume_24h(0) {}

    std::int64_t ts_ns = 0;   // when the feed produced it, ns since the Unix epoch
    std::uint64_t seq = 0;    // per topic, +1 per update (a book: per change) at the source

    // One body per kind, in the same 80 bytes.
    union {
        // Ticker. Fixed-point mantissas: prices at price_decimals places, sizes at size_decimals.
        struct {
            std::int64_t bid, bid_size;
            std::int64_t ask, ask_size;
            std::int64_t last, last_size;
            std::int64_t open_24h, high_24h, low_24h;
            std::int64_t volume_24h;
        };
        BookFragment book;
        TradeFields trade;
    };

    std::uint8_t feed = 0;    // index of the producing feed in the gateway's --feed list (at most 64)
    UpdateKind kind = UpdateKind::ticker;
    std::uint8_t price_decimals = 2;
    std::uint8_t size_decimals = 4;
    std::uint8_t topic_len = 0;
    char topic_chars[kMaxTopicLength] = {};

    std::string_view topic() const noexcept { return {topic_chars, topic_len}; }

    /// Returns false (and leaves the topic unchanged) when `t` is longer than kMaxTopicLength.
    bool set_topic(std::string_view t) noexcept {
        if (t.size() > kMaxTopicLength) return false;
        std::memcpy(topic_chars, t.data(), t.size());
        topic_len = static_cast<std::uint8_t>(t.size());
        return true;
    }
};

static_assert(sizeof(MarketUpdate) == 128, "two cache lines per update");
static_assert(sizeof(BookFragment) <= 80 && sizeof(TradeFields) <= 80, "bodies share the ticker's 80 bytes");

}  // namespace tickgate::protocol
