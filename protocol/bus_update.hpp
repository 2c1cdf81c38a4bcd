#pragma once
// The bus encoding: one TickerUpdate as a NATS message between tickgate-feed publishers and
// gateways. The topic travels in the subject (<prefix>.<channel>.<symbol>), the rest in a fixed
// 100-byte little-endian record (see protocol/README.md, "The bus encoding"). Binary was chosen over
// the v1 JSON object by measurement (bench/bus_bench.cpp): encode and decode both cost a fraction
// of the JSON ones, and the record is less than half the size.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/model/ticker_update.hpp"

namespace tickgate::protocol {

inline constexpr std::uint8_t kBusMagic = 0x54;  // 'T'
inline constexpr std::uint8_t kBusVersion = 1;
inline constexpr std::size_t kBusUpdateSize = 100;

enum class BusDecodeError { none, wrong_size, bad_magic, unknown_version, bad_decimals, zero_seq, bad_subject };

/// Writes u (everything but topic and feed) into exactly kBusUpdateSize bytes at out.
void encode_bus_update(const TickerUpdate& u, std::byte* out) noexcept;

/// Decodes a record written by encode_bus_update into out (topic and feed are left as they are).
/// Rejects anything but a version-1 record of exactly kBusUpdateSize bytes with decimals <= 18 and
/// seq >= 1, so a foreign message on the subjects is recognised rather than misread.
BusDecodeError decode_bus_update(std::string_view data, TickerUpdate& out) noexcept;

/// The topic carried by a bus subject: its last two tokens ("md.ticker.BTC-USD" -> "ticker.BTC-USD"),
/// whatever the prefix. Empty when the subject has no valid topic there.
std::string_view topic_from_subject(std::string_view subject) noexcept;

const char* bus_decode_error_name(BusDecodeError e) noexcept;

}  // namespace tickgate::protocol
