#include "protocol/messages.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "protocol/decimal.hpp"
#include "protocol/epoch.hpp"
#include "protocol/topic.hpp"
#include "protocol/utf8.hpp"

namespace tickgate::protocol {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";

bool is_plain_json_char(unsigned char c) noexcept { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }

template <std::size_t N>
char* put(char* p, const char (&literal)[N]) noexcept {
    std::memcpy(p, literal, N - 1);
    return p + N - 1;
}

/// Writes the body of a JSON string (no quotes); needs up to 6 bytes per input byte. Invalid UTF-8
/// becomes U+FFFD so a text frame carrying it stays valid UTF-8 for the client.
char* put_escaped(char* p, std::string_view s) noexcept {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (is_plain_json_char(c)) {
            *p++ = static_cast<char>(c);
            ++i;
        } else if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = static_cast<char>(c);
            ++i;
        } else if (c < 0x20) {
            p = put(p, "\\u00");
            *p++ = kHex[c >> 4];
            *p++ = kHex[c & 0xF];
            ++i;
        } else if (const std::size_t n = utf8_sequence_length(s.substr(i)); n != 0) {
            std::memcpy(p, s.data() + i, n);
            p += n;
            i += n;
        } else {
            p = put(p, "\\uFFFD");
            ++i;
        }
    }
    return p;
}

char* put_decimal_field(char* p, std::int64_t v, int decimals) noexcept {
    return p + format_decimal(p, v, decimals);
}

/// Writes a message of any length through a stack buffer: whatever is written goes to `out` in
/// appends of up to the buffer's size, so the common small message costs one append.
class ChunkWriter {
public:
    static constexpr std::size_t kBytes = 2048;

    explicit ChunkWriter(std::string& out) noexcept : out_(out) {}
    ChunkWriter(const ChunkWriter&) = delete;
    ChunkWriter& operator=(const ChunkWriter&) = delete;

    /// Room for `n` more bytes at p; returns the write position.
    char* reserve(char* p, std::size_t n) {
        if (static_cast<std::size_t>(buf_ + sizeof(buf_) - p) >= n) return p;
        flush(p);
        return buf_;
    }
    void flush(char* p) { out_.append(buf_, static_cast<std::size_t>(p - buf_)); }
    char* begin() noexcept { return buf_; }

private:
    char buf_[kBytes];
    std::string& out_;
};

// One level of a book message: ["<price>","<size>"], and a ','.
constexpr std::size_t kMaxLevelChars = 2 * kMaxDecimalChars + 8;
// Type and topic escaped (at most 6 bytes per input byte) plus the fixed fields.
constexpr std::size_t kMaxBookHeaderChars = 12 * kMaxTopicLength + 200;
static_assert(kMaxBookHeaderChars + kMaxLevelChars <= ChunkWriter::kBytes);

/// {"type":"<type>","topic":"<topic>","seq":<seq>: how every market-data message begins.
char* put_message_start(char* p, std::string_view type, std::string_view topic, std::uint64_t seq) noexcept {
    p = put(p, "{\"type\":\"");
    p = put_escaped(p, type);
    p = put(p, "\",\"topic\":\"");
    p = put_escaped(p, topic);
    p = put(p, "\",\"seq\":");
    return std::to_chars(p, p + 20, seq).ptr;
}

char* put_book_header(char* p, std::string_view type, std::string_view topic, std::uint64_t seq,
                      std::uint64_t prev_seq, bool snapshot, std::int64_t ts_ns) noexcept {
    p = put_message_start(p, type.substr(0, kMaxTopicLength), topic.substr(0, kMaxTopicLength), seq);
    if (!snapshot) {
        p = put(p, ",\"prev_seq\":");
        p = std::to_chars(p, p + 20, prev_seq).ptr;
    }
    p = put(p, ",\"ts\":");
    p = std::to_chars(p, p + 20, ts_ns).ptr;
    p = snapshot ? put(p, ",\"snapshot\":true,\"bids\":[") : put(p, ",\"snapshot\":false,\"bids\":[");
    return p;
}

char* put_price_levels(ChunkWriter& w, char* p, std::span<const PriceLevel> levels, int pd, int sd) {
    for (const PriceLevel& l : levels) {
        p = w.reserve(p, kMaxLevelChars);
        p = put(p, "[\"");
        p = put_decimal_field(p, l.price, pd);
        p = put(p, "\",\"");
        p = put_decimal_field(p, l.size, sd);
        p = put(p, "\"],");
    }
    return p - !levels.empty();  // no ',' after the last level
}

char* put_book_levels(ChunkWriter& w, char* p, std::span<const BookLevel> levels) {
    for (const BookLevel& l : levels) {
        p = w.reserve(p, kMaxLevelChars);
        // Fixed-size copies (a price is at most 21 characters, the text has room after the size,
        // and kMaxLevelChars covers the overshoot): no variable-length memcpy call per field.
        p = put(p, "[\"");
        std::memcpy(p, l.text, kMaxDecimalChars);
        p += l.price_len;
        p = put(p, "\",\"");
        std::memcpy(p, l.text + l.price_len + 1, kMaxDecimalChars);
        p += l.size_len;
        p = put(p, "\"],");
    }
    return p - !levels.empty();
}

char* put_book_trailer(ChunkWriter& w, char* p, std::uint32_t checksum) {
    p = w.reserve(p, 32);
    p = put(p, "],\"checksum\":");
    p = std::to_chars(p, p + 10, checksum).ptr;
    *p++ = '}';
    return p;
}

void append_id(std::string_view id_json, std::string& out) {
    if (id_json.empty()) return;
    out += ",\"id\":";
    out += id_json;
}

template <typename Strings>
void append_strings(const Strings& items, std::string& out) {
    out += '[';
    bool first = true;
    for (const auto& s : items) {
        if (!first) out += ',';
        first = false;
        append_json_string(s, out);
    }
    out += ']';
}

}  // namespace

void append_string_array(std::span<const std::string> items, std::string& out) { append_strings(items, out); }
void append_string_array(std::span<const std::string_view> items, std::string& out) { append_strings(items, out); }

void append_json_string(std::string_view s, std::string& out) {
    out += '"';
    std::size_t i = 0;
    while (i < s.size()) {
        // Copy runs of characters that need no escaping in one go.
        std::size_t j = i;
        while (j < s.size() && is_plain_json_char(static_cast<unsigned char>(s[j]))) ++j;
        out.append(s.data() + i, j - i);
        if (j == s.size()) break;
        // One special character or one UTF-8 sequence (at most 6 output bytes).
        char buf[8];
        const std::size_t n = static_cast<unsigned char>(s[j]) >= 0x80 ? std::max<std::size_t>(1, utf8_sequence_length(s.substr(j))) : 1;
        out.append(buf, static_cast<std::size_t>(put_escaped(buf, s.substr(j, n)) - buf));
        i = j + n;
    }
    out += '"';
}

void encode_update(const MarketUpdate& u, bool snapshot, std::string& out) {
    // Worst case with escaped channel and topic (27 bytes * 6 each) stays well under this.
    char buf[1024];
    char* p = buf;
    const int pd = u.price_decimals;
    const int sd = u.size_decimals;
    const std::string_view topic = u.topic();

    p = put_message_start(p, topic_channel(topic), topic, u.seq);
    p = put(p, ",\"ts\":");
    p = std::to_chars(p, p + 20, u.ts_ns).ptr;
    p = snapshot ? put(p, ",\"snapshot\":true,\"bid\":\"") : put(p, ",\"snapshot\":false,\"bid\":\"");
    p = put_decimal_field(p, u.bid, pd);
    p = put(p, "\",\"bid_size\":\"");
    p = put_decimal_field(p, u.bid_size, sd);
    p = put(p, "\",\"ask\":\"");
    p = put_decimal_field(p, u.ask, pd);
    p = put(p, "\",\"ask_size\":\"");
    p = put_decimal_field(p, u.ask_size, sd);
    p = put(p, "\",\"last\":\"");
    p = put_decimal_field(p, u.last, pd);
    p = put(p, "\",\"last_size\":\"");
    p = put_decimal_field(p, u.last_size, sd);
    p = put(p, "\",\"open_24h\":\"");
    p = put_decimal_field(p, u.open_24h, pd);
    p = put(p, "\",\"high_24h\":\"");
    p = put_decimal_field(p, u.high_24h, pd);
    p = put(p, "\",\"low_24h\":\"");
    p = put_decimal_field(p, u.low_24h, pd);
    p = put(p, "\",\"volume_24h\":\"");
    p = put_decimal_field(p, u.volume_24h, sd);
    p = put(p, "\"}");
    out.append(buf, static_cast<std::size_t>(p - buf));
}

void encode_book(const BookMessage& m, std::string& out) {
    ChunkWriter w(out);
    char* p = put_book_header(w.begin(), m.type, m.topic, m.seq, m.prev_seq, m.snapshot, m.ts_ns);
    p = put_price_levels(w, p, m.bids, m.price_decimals, m.size_decimals);
    p = w.reserve(p, 16);
    p = put(p, "],\"asks\":[");
    p = put_price_levels(w, p, m.asks, m.price_decimals, m.size_decimals);
    p = put_book_trailer(w, p, m.checksum);
    w.flush(p);
}

void encode_book_snapshot(std::string_view type, std::string_view topic, std::uint64_t seq, std::int64_t ts_ns,
                          const OrderBook& book, std::size_t depth, std::string& out) {
    ChunkWriter w(out);
    char* p = put_book_header(w.begin(), type, topic, seq, 0, true, ts_ns);
    const auto bids = book.levels(BookSide::bid);
    const auto asks = book.levels(BookSide::ask);
    p = put_book_levels(w, p, bids.first(std::min(depth, bids.size())));
    p = w.reserve(p, 16);
    p = put(p, "],\"asks\":[");
    p = put_book_levels(w, p, asks.first(std::min(depth, asks.size())));
    p = put_book_trailer(w, p, book.checksum());
    w.flush(p);
}

void encode_trade(const MarketUpdate& u, std::string& out) {
    char buf[512];
    char* p = buf;
    const std::string_view topic = u.topic();
    p = put_message_start(p, topic_channel(topic), topic, u.seq);
    p = put(p, ",\"ts\":");
    p = std::to_chars(p, p + 20, u.ts_ns).ptr;
    p = put(p, ",\"trade_id\":");
    p = std::to_chars(p, p + 20, u.trade.trade_id).ptr;
    p = put(p, ",\"price\":\"");
    p = put_decimal_field(p, u.trade.price, u.price_decimals);
    p = put(p, "\",\"size\":\"");
    p = put_decimal_field(p, u.trade.size, u.size_decimals);
    p = u.trade.side == TradeSide::sell ? put(p, "\",\"side\":\"sell\"}") : put(p, "\",\"side\":\"buy\"}");
    out.append(buf, static_cast<std::size_t>(p - buf));
}

void encode_welcome(std::string_view session, std::string_view version, std::uint32_t heartbeat_ms,
                    std::span<const std::string> publish_channels, std::string& out) {
    out += "{\"type\":\"welcome\",\"session\":";
    append_json_string(session, out);
    out += ",\"version\":";
    append_json_string(version, out);
    out += ",\"heartbeat_ms\":";
    out += std::to_string(heartbeat_ms);
    if (!publish_channels.empty()) {
        out += ",\"publish\":";
        append_string_array(publish_channels, out);
    }
    out += '}';
}

void encode_topic_ack(std::string_view type, std::string_view id_json, std::span<const std::string> topics,
                      std::string& out) {
    out += "{\"type\":";
    append_json_string(type, out);
    append_id(id_json, out);
    out += ",\"topics\":";
    append_string_array(topics, out);
    out += '}';
}

void append_subscribe_extras(const SubscribeAckExtras& extras, std::string& out) {
    if (!extras.epochs.empty()) {
        out += ",\"epochs\":{";
        for (std::size_t i = 0; i < extras.epochs.size(); ++i) {
            if (i) out += ',';
            append_json_string(extras.epochs[i].topic, out);
            out += ":\"";
            out += format_epoch(extras.epochs[i].epoch);
            out += '"';
        }
        out += '}';
    }
    if (extras.had_since) {
        out += ",\"recovered\":{";
        for (std::size_t i = 0; i < extras.recovered.size(); ++i) {
            if (i) out += ',';
            append_json_string(extras.recovered[i].topic, out);
            out += extras.recovered[i].recovered ? ":true" : ":false";
        }
        out += '}';
    }
}

void encode_subscribed(std::string_view id_json, std::span<const std::string> topics, const SubscribeAckExtras& extras,
                       std::string& out) {
    out += "{\"type\":\"subscribed\"";
    append_id(id_json, out);
    out += ",\"topics\":";
    append_string_array(topics, out);
    append_subscribe_extras(extras, out);
    out += '}';
}

bool append_as_snapshot(std::string_view live_json, std::string& out) {
    // Every live object the gateway encodes starts {"type":..,"topic":..,"seq":N,"ts":N: the type and
    // topic are names without quotes or escapes, so the first ,"ts": is the member, never text
    // inside a string (a room message's data comes after it).
    constexpr std::string_view kTs = ",\"ts\":";
    const auto at = live_json.find(kTs);
    if (at == std::string_view::npos) return false;
    std::size_t end = at + kTs.size();
    if (end < live_json.size() && live_json[end] == '-') ++end;
    while (end < live_json.size() && live_json[end] >= '0' && live_json[end] <= '9') ++end;
    if (end == at + kTs.size()) return false;
    out.append(live_json.substr(0, end));
    out += ",\"snapshot\":true";
    out.append(live_json.substr(end));
    return true;
}

void encode_topic_list(std::string_view id_json, std::span<const std::string_view> topics, std::string& out) {
    out += "{\"type\":\"topics\"";
    append_id(id_json, out);
    out += ",\"topics\":";
    append_string_array(topics, out);
    out += '}';
}

void encode_pong(std::string_view id_json, std::int64_t ts_ns, std::string& out) {
    out += "{\"type\":\"pong\"";
    append_id(id_json, out);
    out += ",\"ts\":";
    out += std::to_string(ts_ns);
    out += '}';
}

void encode_error(std::string_view id_json, ErrorCode code, std::string_view message,
                  std::span<const std::string> topics, std::string& out) {
    out += "{\"type\":\"error\"";
    append_id(id_json, out);
    out += ',';
    append_error_fields(code, message, topics, out);
    out += '}';
}

void append_error_fields(ErrorCode code, std::string_view message, std::span<const std::string> topics,
                         std::string& out) {
    out += "\"code\":\"";
    out += error_code_name(code);
    out += "\",\"message\":";
    append_json_string(message, out);
    if (!topics.empty()) {
        out += ",\"topics\":";
        append_string_array(topics, out);
    }
}

void encode_status(std::string_view feed, std::string_view state, std::string_view message, std::string& out) {
    out += "{\"type\":\"status\",\"feed\":";
    append_json_string(feed, out);
    out += ",\"state\":";
    append_json_string(state, out);
    out += ",\"message\":";
    append_json_string(message, out);
    out += '}';
}

}  // namespace tickgate::protocol
