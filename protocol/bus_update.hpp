#pragma once
// The bus encoding: MarketUpdates as NATS messages between tickgate-feed publishers and gateways.
// The topic travels in the subject (<prefix>.<channel>.<symbol>), the rest in the payload (see
// protocol/README.md, "The bus encoding"). Two versions are on the wire:
//   v1: one fixed 100-byte little-endian ticker record;
//   v2: a 10-byte header (magic, version, the publisher's epoch) and then typed records
//       [type u8][len u16][body], so books, trades and client messages are new types rather than
//       new versions. A reader skips a type it does not know and counts it.
// Type 5, the subject group, carries records of another subject: the publisher's batched live
// subject puts many topics' updates in one message this way (protocol/README.md, "The batched live
// subject").
// Binary was chosen over the v1 JSON object by measurement (bench/bus_bench.cpp): encode and decode
// both cost a fraction of the JSON ones, and the record is less than half the size.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

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
inline constexpr std::size_t kBusRecordMaxBody = 0xffff;  // len is a u16
inline constexpr std::size_t kBusMaxGroupSubject = 255;   // a group's subject length is a u8

/// v2 record types. Types 2-4 are reserved for the issues that bring them; readers of this
/// release skip them like any other unknown type.
/// subject_group: [subject length u8][subject][records...], the records (any type but another
/// group) belonging to that subject rather than to the message's own. A reader that does not know
/// the type skips the whole group, so it can never take a grouped record for the message
/// subject's.
enum class BusRecordType : std::uint8_t {
    ticker = 1, book_delta = 2, trade = 3, client_message = 4, subject_group = 5
};

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
/// The size of a subject group holding `records_size` bytes of records for `subject`.
constexpr std::size_t subject_group_size(std::size_t subject_size, std::size_t records_size) noexcept {
    return kBusRecordHeaderSize + 1 + subject_size + records_size;
}
/// Writes a subject group's header (kBusRecordHeaderSize + 1 + subject.size() bytes) at out; its
/// `records_size` bytes of records follow. Needs subject.size() <= kBusMaxGroupSubject and
/// 1 + subject.size() + records_size <= kBusRecordMaxBody. Returns the bytes written.
std::size_t encode_subject_group_header(std::string_view subject, std::size_t records_size, std::byte* out) noexcept;
/// A whole v2 message of one ticker record: kBusV2TickerSize bytes at out.
void encode_bus_v2_ticker(const MarketUpdate& u, std::uint64_t epoch, std::byte* out) noexcept;

/// One bus message of either version, checked whole: framing, and every ticker record's body.
/// v1 shows as epoch 0 with one ticker record.
struct BusMessage {
    std::uint8_t version = 0;
    std::uint64_t epoch = 0;
    std::size_t tickers = 0;  // ticker records, delivered by for_each_ticker (grouped ones included)
    std::size_t ungrouped = 0; // of those, outside any subject group: the message subject's topic's
    std::size_t groups = 0;   // subject groups
    std::size_t unknown = 0;  // records of a type this reader does not know, skipped (in groups too)
    std::string_view records; // views the parsed data: v2 the records after the header, v1 the ticker body
};

/// Checks `data` as a v1 or v2 message. All or nothing: on any error nothing of the message is
/// to be used (a truncated or foreign message is not half-applied). A subject group must name a
/// subject whose last two tokens are a valid topic (topic_from_subject) and hold well-formed
/// records, none of them a group.
BusDecodeError parse_bus_message(std::string_view data, BusMessage& out) noexcept;

/// Calls f for each ticker record of a message parse_bus_message accepted, in order (topic and
/// feed unset): f(std::string_view subject, const MarketUpdate&) with the group's subject, empty
/// for a ticker outside any group (it belongs to the message's subject); or f(const MarketUpdate&).
template <typename F>
void for_each_ticker(const BusMessage& m, F&& f);

/// NATS subject matching: whether `subject` (tokens separated by '.', no wildcards) is covered by
/// `pattern`, where a '*' token matches any one token and a final '>' one or more. What
/// nats-server would deliver to a subscription on `pattern`: a gateway reading the batched live
/// subject filters grouped records with it, so --nats-subjects means the same either way.
bool nats_subject_matches(std::string_view pattern, std::string_view subject) noexcept;

/// The topic carried by a bus subject: its last two tokens ("md.ticker.BTC-USD" -> "ticker.BTC-USD"),
/// whatever the prefix. Empty when the subject has no valid topic there.
std::string_view topic_from_subject(std::string_view subject) noexcept;

const char* bus_decode_error_name(BusDecodeError e) noexcept;

namespace detail {
/// Decodes a ticker body already checked by parse_bus_message.
void decode_checked_ticker_body(const char* body, MarketUpdate& out) noexcept;
}  // namespace detail

namespace detail {
template <typename F>
void deliver_ticker(F& f, std::string_view subject, const MarketUpdate& u) {
    if constexpr (std::is_invocable_v<F&, std::string_view, const MarketUpdate&>)
        f(subject, u);
    else
        f(u);
}

inline std::size_t record_len(std::string_view rest) noexcept {
    return static_cast<std::uint8_t>(rest[1]) | (static_cast<std::size_t>(static_cast<std::uint8_t>(rest[2])) << 8);
}

/// The tickers of a run of records already checked; nested groups are not there (checked).
template <typename F>
void tickers_of_records(std::string_view rest, std::string_view subject, bool top, F& f) {
    MarketUpdate u;
    // Bounded by the message: every step consumes at least a record header.
    while (rest.size() >= kBusRecordHeaderSize) {
        const auto type = static_cast<std::uint8_t>(rest[0]);
        const std::size_t len = record_len(rest);
        const std::string_view body = rest.substr(kBusRecordHeaderSize, len);
        if (type == static_cast<std::uint8_t>(BusRecordType::ticker)) {
            decode_checked_ticker_body(body.data(), u);
            deliver_ticker(f, subject, static_cast<const MarketUpdate&>(u));
        } else if (top && type == static_cast<std::uint8_t>(BusRecordType::subject_group)) {
            const std::size_t n = static_cast<std::uint8_t>(body[0]);
            tickers_of_records(body.substr(1 + n), body.substr(1, n), false, f);
        }
        rest.remove_prefix(kBusRecordHeaderSize + len);
    }
}
}  // namespace detail

template <typename F>
void for_each_ticker(const BusMessage& m, F&& f) {
    if (m.version == kBusVersion) {
        MarketUpdate u;
        detail::decode_checked_ticker_body(m.records.data(), u);
        detail::deliver_ticker(f, std::string_view{}, static_cast<const MarketUpdate&>(u));
        return;
    }
    detail::tickers_of_records(m.records, std::string_view{}, true, f);
}

}  // namespace tickgate::protocol
