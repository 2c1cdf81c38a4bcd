#pragma once
// Reading protocol v1 messages back: what the replay feed does with each line of a file recorded
// from any v1 client (ticker, book, book50 and trade messages).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/model/market_update.hpp"
#include "protocol/model/order_book.hpp"

namespace tickgate::protocol {

/// Parses {"topic":..., "ts":..., "bid":"...", ... } (other fields such as "type", "seq" and
/// "snapshot" are ignored). Required: topic (a valid exact topic), ts (integer ns), and the ten price
/// and size fields as decimal strings. price_decimals is the most places among the price fields
/// (bid, ask, last, open_24h, high_24h, low_24h), size_decimals likewise among the sizes (bid_size,
/// ask_size, last_size, volume_24h); the other fields are rescaled to them. seq and feed are left 0.
/// On failure returns false and sets `error` to a one-line reason.
bool decode_update(std::string_view json, MarketUpdate& out, std::string& error);

/// A recorded book or book50 message, as a v1 client received it.
struct BookLine {
    std::string topic;              // book.<SYM> or book50.<SYM>
    std::int64_t ts_ns = 0;
    std::uint64_t seq = 0;
    std::uint64_t prev_seq = 0;     // deltas only
    bool snapshot = false;
    std::uint32_t checksum = 0;     // of the view's state after this message, as recorded
    std::vector<PriceLevel> bids;   // as recorded (best first if the recorder was right), size 0 removes
    std::vector<PriceLevel> asks;
    // The most places among the line's prices, and among its sizes; the others are rescaled to
    // them. 0 when the line has no level.
    std::uint8_t price_decimals = 0;
    std::uint8_t size_decimals = 0;

    std::size_t level_count() const noexcept { return bids.size() + asks.size(); }
};

/// One line of a recording: a ticker or a trade (in `update`, kind set, seq and feed 0), or a book
/// message (in `book`).
struct RecordedLine {
    UpdateKind kind = UpdateKind::ticker;
    MarketUpdate update;
    BookLine book;
};

/// Parses one recorded v1 message; the topic's channel says what it is: `book` and `book50` are
/// book messages, `trade` trades, any other channel a ticker (decode_update's rules).
///  - book: topic, ts, seq (unsigned), snapshot (boolean), prev_seq (unsigned, deltas only, below
///    seq), bids and asks (arrays of ["price","size"] decimal strings; prices above 0, sizes not
///    negative, above 0 in a snapshot; a snapshot at most the view's depth per side), checksum
///    (unsigned 32-bit).
///  - trade: topic, ts, trade_id (unsigned), price (above 0) and size (above 0) as decimal strings,
///    side "buy" or "sell"; seq is ignored.
/// On failure returns false and sets `error` to a one-line reason; `out` is then unspecified.
bool decode_recorded_line(std::string_view json, RecordedLine& out, std::string& error);

}  // namespace tickgate::protocol
