#pragma once
// Topic and pattern grammar.
// topic   = channel "." symbol
// channel = [a-z0-9_]+, not a reserved name
// symbol  = [A-Z0-9]+ "-" [A-Z0-9]+
// pattern = (channel | "*") "." (symbol | "*"), with at least one "*"

#include <string_view>

#include "protocol/model/market_update.hpp"

namespace tickgate::protocol {

/// Channel names that would collide with protocol message types or Socket.IO event names.
bool is_reserved_channel(std::string_view channel) noexcept;
bool is_valid_channel(std::string_view channel) noexcept;  // grammar and not reserved
bool is_valid_symbol(std::string_view symbol) noexcept;

enum class EntryKind { invalid, topic, pattern };

/// Classifies one entry of a subscribe/unsubscribe list. Length over kMaxTopicLength is invalid.
EntryKind classify_entry(std::string_view entry) noexcept;

/// True when `topic` (a valid exact topic) is covered by `pattern` (a valid pattern or exact topic).
bool entry_matches(std::string_view entry, std::string_view topic) noexcept;

/// The channel part of a valid topic ("ticker" of "ticker.BTC-USD").
std::string_view topic_channel(std::string_view topic) noexcept;
/// The symbol part of a valid topic ("BTC-USD" of "ticker.BTC-USD"); empty without a ".".
std::string_view topic_symbol(std::string_view topic) noexcept;

}  // namespace tickgate::protocol
