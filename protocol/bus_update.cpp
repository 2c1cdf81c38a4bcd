#include "protocol/bus_update.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "protocol/bus_publish.hpp"
#include "protocol/little_endian.hpp"
#include "protocol/topic.hpp"

namespace tickgate::protocol {
namespace {

// A ticker body after its two decimals bytes, in order: seq, ts, then the ten mantissas.
constexpr std::array<std::int64_t MarketUpdate::*, 10> kMantissas = {
    &MarketUpdate::bid,      &MarketUpdate::bid_size, &MarketUpdate::ask,
    &MarketUpdate::ask_size, &MarketUpdate::last,     &MarketUpdate::last_size,
    &MarketUpdate::open_24h, &MarketUpdate::high_24h, &MarketUpdate::low_24h,
    &MarketUpdate::volume_24h,
};
constexpr std::size_t kHeaderSize = 4;
static_assert(kHeaderSize + 8 * (2 + kMantissas.size()) == kBusUpdateSize);
static_assert(kTickerBodySize + 2 == kBusUpdateSize);

void encode_ticker_body(const MarketUpdate& u, std::byte* out) noexcept {
    out[0] = std::byte{u.price_decimals};
    out[1] = std::byte{u.size_decimals};
    std::byte* p = out + 2;
    le::store64(p, u.seq);
    le::store64(p + 8, static_cast<std::uint64_t>(u.ts_ns));
    p += 16;
    for (auto member : kMantissas) {
        le::store64(p, static_cast<std::uint64_t>(u.*member));
        p += 8;
    }
}

// The checks a ticker body must pass before any of it is used; `body` holds kTickerBodySize bytes.
BusDecodeError check_ticker_body(const char* body) noexcept {
    // 18 places is the most an int64 mantissa can hold with a digit left of the point.
    if (static_cast<std::uint8_t>(body[0]) > 18 || static_cast<std::uint8_t>(body[1]) > 18)
        return BusDecodeError::bad_decimals;
    if (le::load64(body + 2) == 0) return BusDecodeError::zero_seq;
    return BusDecodeError::none;
}

// A book record: decimals, seq >= 1, only flags this reader knows, a whole number of levels, each
// on a side that exists with a size that is not negative (0 removes).
BusDecodeError check_book_body(std::string_view body) noexcept {
    if (body.size() < kBookRecordHeaderSize || (body.size() - kBookRecordHeaderSize) % kBookRecordLevelSize != 0)
        return BusDecodeError::bad_record;
    if (static_cast<std::uint8_t>(body[0]) > 18 || static_cast<std::uint8_t>(body[1]) > 18)
        return BusDecodeError::bad_decimals;
    if (le::load64(body.data() + 2) == 0) return BusDecodeError::zero_seq;
    // A flag this reader does not know changes what the record means: a new type, not a guess.
    if ((static_cast<std::uint8_t>(body[18]) & ~kBookRecordReset) != 0) return BusDecodeError::bad_record;
    const std::size_t n = static_cast<std::uint8_t>(body[19]) | (static_cast<std::size_t>(static_cast<std::uint8_t>(body[20])) << 8);
    if (n != (body.size() - kBookRecordHeaderSize) / kBookRecordLevelSize) return BusDecodeError::bad_record;
    for (std::size_t i = 0; i < n; ++i) {
        const char* l = body.data() + kBookRecordHeaderSize + i * kBookRecordLevelSize;
        if (static_cast<std::uint8_t>(l[0]) > 1) return BusDecodeError::bad_record;
        if (static_cast<std::int64_t>(le::load64(l + 1)) <= 0 || static_cast<std::int64_t>(le::load64(l + 9)) < 0)
            return BusDecodeError::bad_record;
    }
    return BusDecodeError::none;
}

BusDecodeError check_trade_body(std::string_view body) noexcept {
    if (body.size() != kTradeBodySize) return BusDecodeError::bad_record;
    if (static_cast<std::uint8_t>(body[0]) > 18 || static_cast<std::uint8_t>(body[1]) > 18)
        return BusDecodeError::bad_decimals;
    if (le::load64(body.data() + 2) == 0) return BusDecodeError::zero_seq;
    if (static_cast<std::int64_t>(le::load64(body.data() + 18)) <= 0 || static_cast<std::int64_t>(le::load64(body.data() + 26)) <= 0 ||
        static_cast<std::uint8_t>(body[42]) > 1)
        return BusDecodeError::bad_record;
    return BusDecodeError::none;
}

// A client message record: seq >= 1, a sender's name and data within bus_publish.hpp's limits, the
// data one JSON value. The gateway puts both into client frames as they are, so neither may be
// anything its encoder would have to repair.
BusDecodeError check_client_message_body(std::string_view body) noexcept {
    if (body.size() < kClientMessageHeaderSize) return BusDecodeError::bad_record;
    if (le::load64(body.data()) == 0) return BusDecodeError::zero_seq;
    const std::size_t from_size =
        static_cast<std::uint8_t>(body[16]) | (static_cast<std::size_t>(static_cast<std::uint8_t>(body[17])) << 8);
    if (body.size() - kClientMessageHeaderSize < from_size) return BusDecodeError::bad_record;
    const std::string_view from = body.substr(kClientMessageHeaderSize, from_size);
    const std::string_view data = body.substr(kClientMessageHeaderSize + from_size);
    if (!is_valid_published_from(from) || data.size() > kMaxPublishedData || !is_valid_json_value(data))
        return BusDecodeError::bad_record;
    return BusDecodeError::none;
}

void put_record_header(BusRecordType type, std::size_t len, std::byte* out) noexcept {
    out[0] = std::byte{static_cast<std::uint8_t>(type)};
    out[1] = std::byte{static_cast<std::uint8_t>(len & 0xff)};
    out[2] = std::byte{static_cast<std::uint8_t>(len >> 8)};
}

struct RecordCounts {
    std::size_t tickers = 0, books = 0, trades = 0, ungrouped = 0, groups = 0, unknown = 0;
    std::size_t client_messages = 0, ungrouped_client_messages = 0;
};

// What a run of records may hold: the message's own records anything (their subject is checked by
// the caller), a group's what its subject names.
struct Allowed {
    bool market = true;
    bool client_messages = true;
};

// top: the message's own records, where a subject group may stand; inside a group none may.
BusDecodeError parse_v2_records(std::string_view rest, bool top, Allowed allowed, RecordCounts& c) noexcept {
    // Bounded by the message: every step consumes at least a record header.
    while (!rest.empty()) {
        if (rest.size() < kBusRecordHeaderSize) return BusDecodeError::bad_record;
        const auto type = static_cast<std::uint8_t>(rest[0]);
        const std::size_t len =
            static_cast<std::uint8_t>(rest[1]) | (static_cast<std::size_t>(static_cast<std::uint8_t>(rest[2])) << 8);
        if (rest.size() - kBusRecordHeaderSize < len) return BusDecodeError::bad_record;
        const std::string_view body = rest.substr(kBusRecordHeaderSize, len);
        const bool market = type == static_cast<std::uint8_t>(BusRecordType::ticker) ||
                            type == static_cast<std::uint8_t>(BusRecordType::book_delta) ||
                            type == static_cast<std::uint8_t>(BusRecordType::trade);
        // A ticker under chat.lobby's subject, or a chat message under ticker.BTC-USD's, would be
        // delivered to a topic it cannot belong to.
        if (market && !allowed.market) return BusDecodeError::bad_subject;
        if (type == static_cast<std::uint8_t>(BusRecordType::client_message) && !allowed.client_messages)
            return BusDecodeError::bad_subject;
        if (type == static_cast<std::uint8_t>(BusRecordType::ticker)) {
            // Exactly the body's size: a ticker with more fields would be a new type, so extra
            // bytes mean the record is not what this reader thinks it is.
            if (len != kTickerBodySize) return BusDecodeError::bad_record;
            if (auto e = check_ticker_body(body.data()); e != BusDecodeError::none) return e;
            ++c.tickers;
            if (top) ++c.ungrouped;
        } else if (type == static_cast<std::uint8_t>(BusRecordType::book_delta)) {
            if (auto e = check_book_body(body); e != BusDecodeError::none) return e;
            ++c.books;
            if (top) ++c.ungrouped;
        } else if (type == static_cast<std::uint8_t>(BusRecordType::trade)) {
            if (auto e = check_trade_body(body); e != BusDecodeError::none) return e;
            ++c.trades;
            if (top) ++c.ungrouped;
        } else if (type == static_cast<std::uint8_t>(BusRecordType::client_message)) {
            if (auto e = check_client_message_body(body); e != BusDecodeError::none) return e;
            ++c.client_messages;
            if (top) ++c.ungrouped_client_messages;
        } else if (type == static_cast<std::uint8_t>(BusRecordType::subject_group)) {
            // One level only: a group in a group has no meaning this reader could guess.
            if (!top || body.empty()) return BusDecodeError::bad_record;
            const std::size_t n = static_cast<std::uint8_t>(body[0]);
            if (body.size() - 1 < n) return BusDecodeError::bad_record;
            const std::string_view subject = body.substr(1, n);
            const Allowed in_group{!topic_from_subject(subject).empty(), !published_topic_from_subject(subject).empty()};
            if (!in_group.market && !in_group.client_messages) return BusDecodeError::bad_subject;
            if (auto e = parse_v2_records(body.substr(1 + n), false, in_group, c); e != BusDecodeError::none) return e;
            ++c.groups;
        } else {
            ++c.unknown;
        }
        rest.remove_prefix(kBusRecordHeaderSize + len);
    }
    return BusDecodeError::none;
}

// One token of a subject or pattern and what follows it.
std::string_view next_token(std::string_view& s) noexcept {
    const std::size_t dot = s.find('.');
    const std::string_view token = s.substr(0, dot);
    s = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
    return token;
}

}  // namespace

void encode_bus_update(const MarketUpdate& u, std::byte* out) noexcept {
    out[0] = std::byte{kBusMagic};
    out[1] = std::byte{kBusVersion};
    encode_ticker_body(u, out + 2);
}

BusDecodeError decode_bus_update(std::string_view data, MarketUpdate& out) noexcept {
    // Size before anything else: a record of another version may be longer, but a v1 reader has
    // no way to know what the extra bytes mean, so it rejects the version instead of guessing.
    if (data.size() < kHeaderSize) return BusDecodeError::wrong_size;
    if (static_cast<std::uint8_t>(data[0]) != kBusMagic) return BusDecodeError::bad_magic;
    if (static_cast<std::uint8_t>(data[1]) != kBusVersion) return BusDecodeError::unknown_version;
    if (data.size() != kBusUpdateSize) return BusDecodeError::wrong_size;
    if (auto e = check_ticker_body(data.data() + 2); e != BusDecodeError::none) return e;
    detail::decode_checked_ticker_body(data.data() + 2, out);
    return BusDecodeError::none;
}

void encode_bus_v2_header(std::uint64_t epoch, std::byte* out) noexcept {
    out[0] = std::byte{kBusMagic};
    out[1] = std::byte{kBusVersion2};
    le::store64(out + 2, epoch);
}

void encode_ticker_record(const MarketUpdate& u, std::byte* out) noexcept {
    put_record_header(BusRecordType::ticker, kTickerBodySize, out);
    encode_ticker_body(u, out + kBusRecordHeaderSize);
}

void encode_book_record(const BusBookChange& c, std::span<const BusBookLevel> levels, std::byte* out) noexcept {
    const std::size_t n = std::min(levels.size(), kBookRecordMaxLevels);
    put_record_header(BusRecordType::book_delta, kBookRecordHeaderSize + n * kBookRecordLevelSize, out);
    std::byte* p = out + kBusRecordHeaderSize;
    p[0] = std::byte{c.price_decimals};
    p[1] = std::byte{c.size_decimals};
    le::store64(p + 2, c.seq);
    le::store64(p + 10, static_cast<std::uint64_t>(c.ts_ns));
    p[18] = std::byte{static_cast<std::uint8_t>(c.reset ? kBookRecordReset : 0)};
    p[19] = std::byte{static_cast<std::uint8_t>(n & 0xff)};
    p[20] = std::byte{static_cast<std::uint8_t>(n >> 8)};
    p += kBookRecordHeaderSize;
    for (std::size_t i = 0; i < n; ++i, p += kBookRecordLevelSize) {
        p[0] = std::byte{static_cast<std::uint8_t>(levels[i].ask ? 1 : 0)};
        le::store64(p + 1, static_cast<std::uint64_t>(levels[i].price));
        le::store64(p + 9, static_cast<std::uint64_t>(levels[i].size));
    }
}

void encode_trade_record(const MarketUpdate& u, std::byte* out) noexcept {
    put_record_header(BusRecordType::trade, kTradeBodySize, out);
    std::byte* p = out + kBusRecordHeaderSize;
    p[0] = std::byte{u.price_decimals};
    p[1] = std::byte{u.size_decimals};
    le::store64(p + 2, u.seq);
    le::store64(p + 10, static_cast<std::uint64_t>(u.ts_ns));
    le::store64(p + 18, static_cast<std::uint64_t>(u.trade.price));
    le::store64(p + 26, static_cast<std::uint64_t>(u.trade.size));
    le::store64(p + 34, u.trade.trade_id);
    p[42] = std::byte{static_cast<std::uint8_t>(u.trade.side == TradeSide::sell ? 1 : 0)};
}

BusBookChange BusBookRecord::change() const noexcept {
    BusBookChange c;
    c.price_decimals = static_cast<std::uint8_t>(body_[0]);
    c.size_decimals = static_cast<std::uint8_t>(body_[1]);
    c.seq = le::load64(body_.data() + 2);
    c.ts_ns = static_cast<std::int64_t>(le::load64(body_.data() + 10));
    c.reset = (static_cast<std::uint8_t>(body_[18]) & kBookRecordReset) != 0;
    return c;
}

std::uint64_t BusBookRecord::seq() const noexcept { return le::load64(body_.data() + 2); }

bool BusBookRecord::reset() const noexcept { return (static_cast<std::uint8_t>(body_[18]) & kBookRecordReset) != 0; }

BusBookLevel BusBookRecord::level(std::size_t i) const noexcept {
    const char* l = body_.data() + kBookRecordHeaderSize + i * kBookRecordLevelSize;
    return BusBookLevel{static_cast<std::int64_t>(le::load64(l + 1)), static_cast<std::int64_t>(le::load64(l + 9)), l[0] != 0};
}

void decode_trade_body(std::string_view body, MarketUpdate& out) noexcept {
    out.kind = UpdateKind::trade;
    out.price_decimals = static_cast<std::uint8_t>(body[0]);
    out.size_decimals = static_cast<std::uint8_t>(body[1]);
    out.seq = le::load64(body.data() + 2);
    out.ts_ns = static_cast<std::int64_t>(le::load64(body.data() + 10));
    out.trade.price = static_cast<std::int64_t>(le::load64(body.data() + 18));
    out.trade.size = static_cast<std::int64_t>(le::load64(body.data() + 26));
    out.trade.trade_id = le::load64(body.data() + 34);
    out.trade.side = body[42] ? TradeSide::sell : TradeSide::buy;
}

void encode_client_message_record(const PublishedMessage& m, std::byte* out) noexcept {
    const std::size_t from_size = std::min(m.from.size(), kMaxPublishedFrom);
    const std::size_t data_size = std::min(m.data.size(), kMaxPublishedData);
    put_record_header(BusRecordType::client_message, kClientMessageHeaderSize + from_size + data_size, out);
    std::byte* p = out + kBusRecordHeaderSize;
    le::store64(p, m.seq);
    le::store64(p + 8, static_cast<std::uint64_t>(m.ts_ns));
    p[16] = std::byte{static_cast<std::uint8_t>(from_size & 0xff)};
    p[17] = std::byte{static_cast<std::uint8_t>(from_size >> 8)};
    p += kClientMessageHeaderSize;
    std::memcpy(p, m.from.data(), from_size);
    std::memcpy(p + from_size, m.data.data(), data_size);
}

BusClientMessage decode_client_message_body(std::string_view body) noexcept {
    BusClientMessage m;
    m.seq = le::load64(body.data());
    m.ts_ns = static_cast<std::int64_t>(le::load64(body.data() + 8));
    const std::size_t from_size =
        static_cast<std::uint8_t>(body[16]) | (static_cast<std::size_t>(static_cast<std::uint8_t>(body[17])) << 8);
    m.from = body.substr(kClientMessageHeaderSize, from_size);
    m.data = body.substr(kClientMessageHeaderSize + from_size);
    return m;
}

void encode_bus_v2_ticker(const MarketUpdate& u, std::uint64_t epoch, std::byte* out) noexcept {
    encode_bus_v2_header(epoch, out);
    encode_ticker_record(u, out + kBusV2HeaderSize);
}

std::size_t encode_subject_group_header(std::string_view subject, std::size_t records_size, std::byte* out) noexcept {
    const std::size_t len = 1 + subject.size() + records_size;
    out[0] = std::byte{static_cast<std::uint8_t>(BusRecordType::subject_group)};
    out[1] = std::byte{static_cast<std::uint8_t>(len & 0xff)};
    out[2] = std::byte{static_cast<std::uint8_t>(len >> 8)};
    out[3] = std::byte{static_cast<std::uint8_t>(subject.size())};
    std::memcpy(out + 4, subject.data(), subject.size());
    return 4 + subject.size();
}

BusDecodeError parse_bus_message(std::string_view data, BusMessage& out) noexcept {
    if (data.size() < 2) return BusDecodeError::wrong_size;
    if (static_cast<std::uint8_t>(data[0]) != kBusMagic) return BusDecodeError::bad_magic;
    const auto version = static_cast<std::uint8_t>(data[1]);
    BusMessage m;
    m.version = version;
    if (version == kBusVersion) {
        if (data.size() != kBusUpdateSize) return BusDecodeError::wrong_size;
        if (auto e = check_ticker_body(data.data() + 2); e != BusDecodeError::none) return e;
        m.tickers = m.ungrouped = 1;
        m.records = data.substr(2);
    } else if (version == kBusVersion2) {
        if (data.size() < kBusV2HeaderSize) return BusDecodeError::wrong_size;
        m.epoch = le::load64(data.data() + 2);
        m.records = data.substr(kBusV2HeaderSize);
        RecordCounts c;
        if (auto e = parse_v2_records(m.records, true, Allowed{}, c); e != BusDecodeError::none) return e;
        m.tickers = c.tickers;
        m.books = c.books;
        m.trades = c.trades;
        m.ungrouped = c.ungrouped;
        m.groups = c.groups;
        m.unknown = c.unknown;
        m.client_messages = c.client_messages;
        m.ungrouped_client_messages = c.ungrouped_client_messages;
    } else {
        // Later releases add record types, never versions: a version byte this reader does not
        // know is someone else's format.
        return BusDecodeError::unknown_version;
    }
    out = m;
    return BusDecodeError::none;
}

namespace detail {

void decode_checked_ticker_body(const char* body, MarketUpdate& out) noexcept {
    out.price_decimals = static_cast<std::uint8_t>(body[0]);
    out.size_decimals = static_cast<std::uint8_t>(body[1]);
    const char* p = body + 2;
    out.seq = le::load64(p);
    out.ts_ns = static_cast<std::int64_t>(le::load64(p + 8));
    p += 16;
    for (auto member : kMantissas) {
        out.*member = static_cast<std::int64_t>(le::load64(p));
        p += 8;
    }
}

}  // namespace detail

std::string_view topic_from_subject(std::string_view subject) noexcept {
    const std::size_t last_dot = subject.rfind('.');
    if (last_dot == std::string_view::npos || last_dot == 0) return {};
    const std::size_t dot = subject.rfind('.', last_dot - 1);
    const std::string_view topic = dot == std::string_view::npos ? subject : subject.substr(dot + 1);
    return classify_entry(topic) == EntryKind::topic ? topic : std::string_view{};
}

bool nats_subject_matches(std::string_view pattern, std::string_view subject) noexcept {
    if (pattern.empty() || subject.empty()) return false;
    while (true) {
        const std::string_view p = next_token(pattern);
        if (p == ">" && pattern.empty()) return !subject.empty();  // a final '>': one or more tokens left
        const std::string_view t = next_token(subject);
        if (t.empty()) return false;                     // subject shorter, or an empty token
        if (p != "*" && p != t) return false;
        if (pattern.empty() || subject.empty()) return pattern.empty() && subject.empty();
    }
}

const char* bus_decode_error_name(BusDecodeError e) noexcept {
    switch (e) {
    case BusDecodeError::none: return "none";
    case BusDecodeError::wrong_size: return "wrong size";
    case BusDecodeError::bad_magic: return "not a tickgate bus record";
    case BusDecodeError::unknown_version: return "unknown version";
    case BusDecodeError::bad_decimals: return "decimals over 18";
    case BusDecodeError::zero_seq: return "seq 0";
    case BusDecodeError::bad_subject: return "subject without a valid topic";
    case BusDecodeError::bad_record: return "malformed v2 record";
    }
    return "unknown";
}

}  // namespace tickgate::protocol
