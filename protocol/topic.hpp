#pragma once
// Topic and pattern grammar.
// topic   = channel "." (symbol | room)
// channel = [a-z0-9_]+, not a reserved name (protocol/reserved_names.hpp)
// symbol  = [A-Z0-9]+ "-" [A-Z0-9]+          market data: ticker.BTC-USD
// room    = [a-z0-9_-]{1,20}                  client publishing: chat.lobby
// pattern = (channel | "*") "." (symbol | "*"), with at least one "*"
//
// Which channels carry rooms is the gateway's choice (--publish-channels), not the grammar's: a
// room topic is valid here on any channel, and the gateway refuses it on a channel that is not
// publishable. A pattern names a room only as "*" ("chat.*"); "*.lobby" is not a pattern.

#include <cstdint>
#include <string_view>

#include "protocol/model/market_update.hpp"

namespace tickgate::protocol {

inline constexpr std::size_t kMaxRoomLength = 20;

/// Channel names that would collide with protocol message types or Socket.IO event names.
bool is_reserved_channel(std::string_view channel) noexcept;
bool is_valid_channel(std::string_view channel) noexcept;  // grammar and not reserved
bool is_valid_symbol(std::string_view symbol) noexcept;
bool is_valid_room(std::string_view room) noexcept;
/// The channels feeds publish market data on (ticker, book, book50, trade): never publishable.
bool is_market_channel(std::string_view channel) noexcept;

enum class EntryKind {
    invalid,
    topic,    // channel.SYMBOL (a segment that is both a symbol and a room, "1-2", is a topic)
    room,     // channel.room: a room topic, valid only on a publishable channel
    pattern,
};

/// Classifies one entry of a subscribe/unsubscribe list. Length over kMaxTopicLength is invalid.
EntryKind classify_entry(std::string_view entry) noexcept;

/// True when `topic` is channel.room within kMaxTopicLength: what a client may publish to, on a
/// publishable channel. "chat.1-2" is one too (its room is also a symbol).
bool is_room_topic(std::string_view topic) noexcept;

/// True when `topic` (a valid exact topic) is covered by `pattern` (a valid pattern or exact topic).
bool entry_matches(std::string_view entry, std::string_view topic) noexcept;

/// A subscription entry split at its interval suffix (issue 18): "ticker.*@250ms" is base "ticker.*"
/// at 250 ms. The suffix is not part of the topic: kMaxTopicLength applies to `base` only, and the
/// entry as written stays what acks echo.
struct ThrottledEntry {
    std::string_view base;        // the entry without its suffix (the whole entry when it has none)
    std::uint32_t interval_ms{};  // 0: raw (no suffix)
    EntryKind kind{EntryKind::invalid};  // classify_entry(base), or invalid when the suffix is bad
    /// Why the entry is refused, for the bad_request message; empty when it is accepted (kind may
    /// still be invalid for a bad base: the caller's existing message for that applies).
    std::string_view error;
};

/// The intervals a client may ask for: a fixed set, so streams are shared across clients.
inline constexpr std::uint32_t kThrottleIntervalsMs[] = {100, 250, 500, 1000, 5000};

/// Splits `entry` at its first "@". Without "@" it is classify_entry(entry) at interval 0, exactly
/// as before. A suffix outside kThrottleIntervalsMs, or on a trade topic/pattern ("trade.X@…",
/// "trade.*@…": a trade is never superseded, so there is no newest value to keep) or on a room (a
/// client message is never superseded either), is invalid with `error` saying why. "*.*@250ms" is
/// accepted: it covers tickers and books only (the registry skips trades and rooms for it).
ThrottledEntry parse_throttled_entry(std::string_view entry) noexcept;

/// The channel part of a valid topic ("ticker" of "ticker.BTC-USD").
std::string_view topic_channel(std::string_view topic) noexcept;
/// The symbol part of a valid topic ("BTC-USD" of "ticker.BTC-USD", "lobby" of "chat.lobby");
/// empty without a ".".
std::string_view topic_symbol(std::string_view topic) noexcept;

}  // namespace tickgate::protocol
