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

/// The channel part of a valid topic ("ticker" of "ticker.BTC-USD").
std::string_view topic_channel(std::string_view topic) noexcept;
/// The symbol part of a valid topic ("BTC-USD" of "ticker.BTC-USD", "lobby" of "chat.lobby");
/// empty without a ".".
std::string_view topic_symbol(std::string_view topic) noexcept;

}  // namespace tickgate::protocol
