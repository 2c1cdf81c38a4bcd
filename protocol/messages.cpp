#include "protocol/messages.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "protocol/decimal.hpp"
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

    p = put(p, "{\"type\":\"");
    p = put_escaped(p, topic_channel(topic));
    p = put(p, "\",\"topic\":\"");
    p = put_escaped(p, topic);
    p = put(p, "\",\"seq\":");
    p = std::to_chars(p, p + 20, u.seq).ptr;
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

void encode_welcome(std::string_view session, std::string_view version, std::uint32_t heartbeat_ms,
                    std::string& out) {
    out += "{\"type\":\"welcome\",\"session\":";
    append_json_string(session, out);
    out += ",\"version\":";
    append_json_string(version, out);
    out += ",\"heartbeat_ms\":";
    out += std::to_string(heartbeat_ms);
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
