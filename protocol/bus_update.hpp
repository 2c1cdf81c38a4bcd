#pragma once
// The bus encoding: MarketUpdates as NATS messages between tickgate-feed publishers and gateways.
// The topic travels in the subject (<prefix>.<channel>.<symbol>), the rest in the payload (see
// protocol/README.md, "The bus encoding"). Two versions are on the wire:
//   v1: one fixed 100-byte little-endian ticker record;
//   v2: a 10-byte header (magic, version, the publisher's epoch) and then typed records
//       [type u8][len u16][body], so books, trades and client messages are new types rather than
//       new versions. A reader skips a type it does not know and counts it.
// Binary was chosen over the v1 JSON object by measurement (bench/bus_bench.cpp): encode and decode
// both cost a fraction of the JSON ones, and the record is less than half the size.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/model/market_update.hpp"

namespace tickgate::protocol {

inline constexpr std::uint8_t kBusMagic = 0x54;  // 'T'
inline constexpr std::uint8_t kBusVersion = 1;
inline constexpr std::uint8_t kBusVersion2 = 2;
inline constexpr std::size_t kBusUpdateSize = 100;       // a whole v1 message
inline constexpr std::size_t kBusV2HeaderSize = 10;      // magic, version, epoch u64
inline constexpr std::size_t kBusRecordHeaderSize = 3;   // type u8, len u16
inline constexpr std::size_t kTickerBodySize = 98;       // v1's record after magic and version
inline constexpr std::size_t kBusV2TickerSize = kBusV2HeaderSize + kBusRecordHeaderSize + kTickerBodySize;

/// v2 record types. Types 2-4 are reserved for the issues that bring them; readers of this
/// release skip them like any other unknown type.
enum class BusRecordType : std::uint8_t { ticker = 1, book_delta = 2, trade = 3, client_message = 4 };

enum class BusDecodeError {
    none, wrong_size, bad_magic, unknown_version, bad_decimals, zero_seq, bad_subject, bad_record
};

/// Writes u (everything but topic and feed) as a v1 message: exactly kBusUpdateSize bytes at out.
void encode_bus_update(const MarketUpdate& u, std::byte* out) noexcept;

/// Decodes a v1 message written by encode_bus_update into out (topic and feed are left as they
/// are). Rejects anything but a version-1 record of exactly kBusUpdateSize bytes with decimals
/// <= 18 and seq >= 1, so a foreign message on the subjects is recognised rather than misread.
BusDecodeError decode_bus_update(std::string_view data, MarketUpdate& out) noexcept;

/// Writes the v2 header at out (kBusV2HeaderSize bytes).
void encode_bus_v2_header(std::uint64_t epoch, std::byte* out) noexcept;
/// Writes one ticker record (header and body, kBusRecordHeaderSize + kTickerBodySize bytes) at out.
void encode_ticker_record(const MarketUpdate& u, std::byte* out) noexcept;
/// A whole v2 message of one ticker record: kBusV2TickerSize bytes at out.
void encode_bus_v2_ticker(const MarketUpdate& u, std::uint64_t epoch, std::byte* out) noexcept;

/// One bus message of either version, checked whole: framing, and every ticker record's body.
/// v1 shows as epoch 0 with one ticker record.
struct BusMessage {
    std::uint8_t version = 0;
    std::uint64_t epoch = 0;
    std::size_t tickers = 0;  // ticker records, delivered by for_each_ticker
    std::size_t unknown = 0;  // records of a type this reader does not know, skipped
    std::string_view records; // views the parsed data: v2 the records after the header, v1 the ticker body
};

/// Checks `data` as a v1 or v2 message. All or nothing: on any error nothing of the message is
/// to be used (a truncated or foreign message is not half-applied).
BusDecodeError parse_bus_message(std::string_view data, BusMessage& out) noexcept;

/// Calls f(const MarketUpdate&) for each ticker record of a message parse_bus_message accepted,
/// in order (topic and feed unset).
template <typename F>
void for_each_ticker(const BusMessage& m, F&& f);

/// The topic carried by a bus subject: its last two tokens ("md.ticker.BTC-USD" -> "ticker.BTC-USD"),
/// whatever the prefix. Empty when the subject has no valid topic there.
std::string_view topic_from_subject(std::string_view subject) noexcept;

const char* bus_decode_error_name(BusDecodeError e) noexcept;

namespace detail {
/// Decodes a ticker body already checked by parse_bus_message.
void decode_checked_ticker_body(const char* body, MarketUpdate& out) noexcept;
}  // namespace detail

template <typename F>
void for_each_ticker(const BusMessage& m, F&& f) {
    MarketUpdate u;
    if (m.version == kBusVersion) {
        detail::decode_checked_ticker_body(m.records.data(), u);
        f(static_cast<const MarketUpdate&>(u));
        return;
    }
    std::string_view rest = m.records;
    // Bounded by the message: every step consumes at least a record header.
    while (rest.size() >= kBusRecordHeaderSize) {
        const auto type = static_cast<std::uint8_t>(rest[0]);
        const std::size_t len = static_cast<std::uint8_t>(rest[1]) | (static_cast<std::size_t>(static_cast<std::uint8_t>(rest[2])) << 8);
        if (type == static_cast<std::uint8_t>(BusRecordType::ticker)) {
            detail::decode_checked_ticker_body(rest.data() + kBusRecordHeaderSize, u);
            f(static_cast<const MarketUpdate&>(u));
        }
        rest.remove_prefix(kBusRecordHeaderSize + len);
    }
}

}  // namespace tickgate::protocol
