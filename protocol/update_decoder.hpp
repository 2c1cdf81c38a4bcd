#pragma once
// Reading a protocol v1 update object back into a MarketUpdate: what the replay feed does with each
// line of a file recorded from any v1 client.

#include <string>
#include <string_view>

#include "protocol/model/market_update.hpp"

namespace tickgate::protocol {

/// Parses {"topic":..., "ts":..., "bid":"...", ... } (other fields such as "type", "seq" and
/// "snapshot" are ignored). Required: topic (a valid exact topic), ts (integer ns), and the ten price
/// and size fields as decimal strings. price_decimals is the most places among the price fields
/// (bid, ask, last, open_24h, high_24h, low_24h), size_decimals likewise among the sizes (bid_size,
/// ask_size, last_size, volume_24h); the other fields are rescaled to them. seq and feed are left 0.
/// On failure returns false and sets `error` to a one-line reason.
bool decode_update(std::string_view json, MarketUpdate& out, std::string& error);

}  // namespace tickgate::protocol
