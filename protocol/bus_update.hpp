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
// subject"). Type 4 is a message a client published into a room (chat.lobby), sequenced by the
// publisher (bus_publish.hpp): it travels on <prefix>.<channel>.<room>, never in the ring.
// Binary was chosen over the v1 JSON object by measurement (bench/bus_bench.cpp): encode and decode
// both cost a fraction of the JSON ones, and the record is less than half the size.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <type_traits>

#include "protocol/model/market_update.hpp"
#include "protocol/model/published_message.hpp"

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
inline constexpr std::size_t kBookRecordHeaderSize = 21;  // decimals x2, seq, ts, flags, level count u16
inline constexpr std::size_t kBookRecordLevelSize = 17;   // side u8, price i64, size i64
inline constexpr std::size_t kBookRecordMaxLevels = (kBusRecordMaxBody - kBookRecordHeaderSize) / kBookRecordLevelSize;
inline constexpr std::size_t kTradeBodySize = 43;         // decimals x2, seq, ts, price, size, trade_id, side
inline constexpr std::uint8_t kBookRecordReset = 1;       // the book is cleared before this change
inline constexpr std::size_t kClientMessageHeaderSize = 18; // seq, ts, from length u16; then from, data

/// v2 record types.
/// book_delta: one whole change of a symbol's source book (any number of levels; with the reset
/// flag, the whole book, replacing what the reader holds: the first change of a book, and every
/// keyframe on <prefix>.bookkf.<SYM>).
/// trade: one trade, with the publisher's seq and trade_id.
/// client_message: a message a client published into a room, with the publisher's seq and ts, the
/// sender's name and the JSON text (bus_publish.hpp has the limits), on <prefix>.<channel>.<room>.
/// Readers of an earlier release skip it as an unknown type.
/// subject_group: [subject length u8][subject][records...], the records (any type but another
/// group) belonging to that subject rather than to the message's own. A reader that does not know
/// the type skips the whole group, so it can never take a grouped record for the message
/// subject's. A group's subject names a market topic (ticker.BTC-USD) for market records, a
/// published topic (chat.lobby) for client messages.
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

/// One level of a book record: sets that price's total size on that side (0 removes it).
struct BusBookLevel {
    std::int64_t price = 0;
    std::int64_t size = 0;
    bool ask = false;
    friend bool operator==(const BusBookLevel&, const BusBookLevel&) = default;
};

/// A book record's fields without its levels.
struct BusBookChange {
    std::uint8_t price_decimals = 2;
    std::uint8_t size_decimals = 4;
    std::uint64_t seq = 0;
    std::int64_t ts_ns = 0;
    bool reset = false;
};

/// The record (header and body) size of a book change of n levels (n <= kBookRecordMaxLevels).
constexpr std::size_t book_record_size(std::size_t levels) noexcept {
    return kBusRecordHeaderSize + kBookRecordHeaderSize + levels * kBookRecordLevelSize;
}
/// Writes one book record (book_record_size(levels.size()) bytes) at out.
void encode_book_record(const BusBookChange& change, std::span<const BusBookLevel> levels, std::byte* out) noexcept;
/// Writes one trade record (kBusRecordHeaderSize + kTradeBodySize bytes) of a trade update at out.
void encode_trade_record(const MarketUpdate& u, std::byte* out) noexcept;

/// A book record's body already checked by parse_bus_message, read in place.
class BusBookRecord {
public:
    explicit BusBookRecord(std::string_view body) noexcept : body_(body) {}
    BusBookChange change() const noexcept;
    std::uint64_t seq() const noexcept;
    bool reset() const noexcept;
    std::size_t level_count() const noexcept { return (body_.size() - kBookRecordHeaderSize) / kBookRecordLevelSize; }
    BusBookLevel level(std::size_t i) const noexcept;
    std::string_view body() const noexcept { return body_; }

private:
    std::string_view body_;
};

/// The ring's form of a book record: consecutive fragments of up to kLevelsPerFragment levels
/// (the first kBookFirst, with kBookReset for a reset; the last kBookLast; a change of no levels
/// is one empty fragment), each passed to f(const MarketUpdate&) with kind book, the record's
/// seq, ts and decimals (topic and feed unset).
template <typename F>
void for_each_book_fragment(const BusBookRecord& r, F&& f);

/// Decodes a checked trade body into out (kind trade; topic and feed left as they are).
void decode_trade_body(std::string_view body, MarketUpdate& out) noexcept;

/// A client message record's size (header and body) for a sender's name and data of these sizes.
constexpr std::size_t client_message_record_size(std::size_t from_size, std::size_t data_size) noexcept {
    return kBusRecordHeaderSize + kClientMessageHeaderSize + from_size + data_size;
}
/// Writes one client message record (seq, ts_ns, from, data of m; its topic is the subject's) at
/// out, client_message_record_size(m.from.size(), m.data.size()) bytes. Needs the sizes
/// bus_publish.hpp allows (from <= kMaxPublishedFrom, data <= kMaxPublishedData).
void encode_client_message_record(const PublishedMessage& m, std::byte* out) noexcept;

/// A client message record's body already checked by parse_bus_message, read in place: seq >= 1,
/// from valid (is_valid_published_from), data one JSON value of at most kMaxPublishedData bytes.
struct BusClientMessage {
    std::uint64_t seq = 0;
    std::int64_t ts_ns = 0;
    std::string_view from;
    std::string_view data;
};
BusClientMessage decode_client_message_body(std::string_view body) noexcept;

/// One bus message of either version, checked whole: framing, and every ticker record's body.
/// v1 shows as epoch 0 with one ticker record.
struct BusMessage {
    std::uint8_t version = 0;
    std::uint64_t epoch = 0;
    std::size_t tickers = 0;  // ticker records, delivered by for_each_ticker (grouped ones included)
    std::size_t books = 0;    // book records (grouped ones included)
    std::size_t trades = 0;   // trade records (grouped ones included)
    std::size_t ungrouped = 0; // market records outside any subject group: the message subject's topic's
    std::size_t client_messages = 0;            // client message records (grouped ones included)
    std::size_t ungrouped_client_messages = 0;  // those outside a group: the message subject's published topic's
    std::size_t groups = 0;   // subject groups
    std::size_t unknown = 0;  // records of a type this reader does not know, skipped (in groups too)
    std::string_view records; // views the parsed data: v2 the records after the header, v1 the ticker body
};

/// Checks `data` as a v1 or v2 message. All or nothing: on any error nothing of the message is
/// to be used (a truncated or foreign message is not half-applied). A subject group must name a
/// subject whose last two tokens are a valid topic (topic_from_subject) or published topic
/// (published_topic_from_subject), and hold well-formed records, none of them a group: market
/// records only under a market topic's subject, client messages only under a published topic's.
/// Records outside a group belong to the message's subject, which the caller checks the same way
/// (ungrouped, ungrouped_client_messages).
BusDecodeError parse_bus_message(std::string_view data, BusMessage& out) noexcept;

/// Calls f for each ticker record of a message parse_bus_message accepted, in order (topic and
/// feed unset): f(std::string_view subject, const MarketUpdate&) with the group's subject, empty
/// for a ticker outside any group (it belongs to the message's subject); or f(const MarketUpdate&).
template <typename F>
void for_each_ticker(const BusMessage& m, F&& f);

/// Calls f(std::string_view subject, BusRecordType type, std::string_view body) for each record of
/// a known type (ticker, book_delta, trade) of a message parse_bus_message accepted, in order, with
/// its group's subject (empty outside a group). Decode a body with decode_checked_ticker_body,
/// BusBookRecord or decode_trade_body.
template <typename F>
void for_each_record(const BusMessage& m, F&& f);

/// Calls f(std::string_view subject, const BusClientMessage&) for each client message record of a
/// message parse_bus_message accepted, in order, with its group's subject (empty outside a group).
template <typename F>
void for_each_client_message(const BusMessage& m, F&& f);

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

/// The market records (ticker, book_delta, trade), or the client message records, of a run of
/// records already checked; nested groups are not there (checked).
template <bool kClientMessages, typename F>
void records_of(std::string_view rest, std::string_view subject, bool top, F& f) {
    // Bounded by the message: every step consumes at least a record header.
    while (rest.size() >= kBusRecordHeaderSize) {
        const auto type = static_cast<std::uint8_t>(rest[0]);
        const std::size_t len = record_len(rest);
        const std::string_view body = rest.substr(kBusRecordHeaderSize, len);
        if constexpr (kClientMessages) {
            if (type == static_cast<std::uint8_t>(BusRecordType::client_message))
                f(subject, decode_client_message_body(body));
        } else if (type == static_cast<std::uint8_t>(BusRecordType::ticker) ||
                   type == static_cast<std::uint8_t>(BusRecordType::book_delta) ||
                   type == static_cast<std::uint8_t>(BusRecordType::trade)) {
            f(subject, static_cast<BusRecordType>(type), body);
        }
        if (top && type == static_cast<std::uint8_t>(BusRecordType::subject_group)) {
            const std::size_t n = static_cast<std::uint8_t>(body[0]);
            records_of<kClientMessages>(body.substr(1 + n), body.substr(1, n), false, f);
        }
        rest.remove_prefix(kBusRecordHeaderSize + len);
    }
}
}  // namespace detail

template <typename F>
void for_each_record(const BusMessage& m, F&& f) {
    if (m.version == kBusVersion) {
        f(std::string_view{}, BusRecordType::ticker, m.records);
        return;
    }
    detail::records_of<false>(m.records, std::string_view{}, true, f);
}

template <typename F>
void for_each_client_message(const BusMessage& m, F&& f) {
    if (m.version != kBusVersion2 || m.client_messages == 0) return;
    detail::records_of<true>(m.records, std::string_view{}, true, f);
}

template <typename F>
void for_each_ticker(const BusMessage& m, F&& f) {
    MarketUpdate u;
    for_each_record(m, [&](std::string_view subject, BusRecordType type, std::string_view body) {
        if (type != BusRecordType::ticker) return;
        detail::decode_checked_ticker_body(body.data(), u);
        detail::deliver_ticker(f, subject, static_cast<const MarketUpdate&>(u));
    });
}

template <typename F>
void for_each_book_fragment(const BusBookRecord& r, F&& f) {
    const BusBookChange c = r.change();
    const std::size_t n = r.level_count();
    MarketUpdate u;
    u.kind = UpdateKind::book;
    u.seq = c.seq;
    u.ts_ns = c.ts_ns;
    u.price_decimals = c.price_decimals;
    u.size_decimals = c.size_decimals;
    std::size_t i = 0;
    do {
        BookFragment& b = u.book;
        b.count = 0;
        b.ask_mask = 0;
        b.flags = i == 0 ? static_cast<std::uint8_t>(kBookFirst | (c.reset ? kBookReset : 0)) : 0;
        for (; b.count < kLevelsPerFragment && i < n; ++i, ++b.count) {
            const BusBookLevel l = r.level(i);
            b.price[b.count] = l.price;
            b.size[b.count] = l.size;
            if (l.ask) b.ask_mask |= static_cast<std::uint8_t>(1u << b.count);
        }
        if (i == n) b.flags |= kBookLast;
        f(static_cast<const MarketUpdate&>(u));
    } while (i < n);
}

}  // namespace tickgate::protocol
