#pragma once
// Pulls the few fields the load tool needs out of one server message by scanning its bytes, not by
// building a DOM: at 100k messages/s a parser per message would cost more than the gateway's send.

#include <cstdint>
#include <string_view>

namespace tickgate::load {

struct ScannedMessage {
    enum class Kind {
        update,      // has "topic", "seq" and "ts": a market-data update (snapshot or live)
        subscribed,  // {"type":"subscribed",...}
        error,       // {"type":"error",...}
        other,       // welcome, status, pong, topics, unsubscribed, ...
        malformed,   // not a JSON object, or an update with an unreadable field
    };
    Kind kind = Kind::other;
    std::string_view topic;
    std::uint64_t seq = 0;
    std::int64_t ts_ns = 0;
    bool snapshot = false;
    // The `latency_key` field's integer (ns since the Unix epoch), 0 when not asked for or absent:
    // a publisher's own send time inside a published message's `data`, so that latency runs from
    // the publish, not from the sequencer's `ts`.
    std::int64_t sent_ns = 0;
    // Where scanning may go on for a book's further fields (book_scan.hpp): the seq value, and
    // the last value read (snapshot's, else ts's).
    std::uint32_t seq_at = 0;
    std::uint32_t fields_end = 0;
};

/// Scans one protocol-v1 message (a JSON object). Field order does not matter; values must be
/// plain (a string topic without escapes, integer seq and ts, boolean snapshot), which every v1
/// update is. Allocation-free; `topic` points into `text`. `latency_key` is a quoted key and colon
/// (`"sent_ns":`) searched after `ts` (published messages put `data` last), or empty: no search,
/// so tickers cost nothing more.
ScannedMessage scan_message(std::string_view text, std::string_view latency_key = {}) noexcept;

}  // namespace tickgate::load
