#include "protocol/socketio.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "protocol/messages.hpp"
#include "protocol/utf8.hpp"

namespace tickgate::protocol::socketio {
namespace {

using Allocator = rapidjson::MemoryPoolAllocator<>;
using Document = rapidjson::GenericDocument<rapidjson::UTF8<>, Allocator, rapidjson::CrtAllocator>;
using Value = Document::ValueType;

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_json_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool is_valid_namespace(std::string_view nsp) noexcept {
    if (nsp.size() > kMaxNamespaceLength || !is_valid_utf8(nsp)) return false;
    for (const char c : nsp) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7F) return false;
    }
    return true;
}

bool is_reserved_event(std::string_view name) noexcept {
    // socket.io's own parser refuses these names: they would fire the client's lifecycle handlers.
    for (const std::string_view r : {"connect", "connect_error", "disconnect", "disconnecting", "newListener",
                                     "removeListener"}) {
        if (name == r) return true;
    }
    return false;
}

/// Index just past the JSON value starting at `i`. Only called on text RapidJSON has validated, so
/// it only has to find the end, not check anything; iterative, so nesting depth costs no stack.
/// Every index is still bounds-checked: a wrong assumption about the text must not read past it.
std::size_t skip_value(std::string_view s, std::size_t i) noexcept {
    int depth = 0;
    do {
        const char c = s[i];
        if (c == '"') {
            for (++i; i < s.size() && s[i] != '"'; ++i) {
                if (s[i] == '\\') ++i;  // the escaped character cannot end the string
            }
            ++i;
        } else if (c == '[' || c == '{') {
            ++depth;
            ++i;
        } else if (c == ']' || c == '}') {
            --depth;
            ++i;
        } else if (depth > 0) {
            ++i;  // commas, colons, spaces and scalars inside a container
        } else {
            while (i < s.size() && s[i] != ',' && s[i] != ']' && s[i] != '}' && !is_json_space(s[i])) ++i;
        }
    } while (depth > 0 && i < s.size());
    return std::min(i, s.size());
}

std::size_t skip_space(std::string_view s, std::size_t i) noexcept {
    while (i < s.size() && is_json_space(s[i])) ++i;
    return i;
}

/// The raw text of each element of the (validated) JSON array `array`, from element `first` on.
void split_array(std::string_view array, std::size_t first, std::vector<std::string_view>& out) {
    std::size_t i = skip_space(array, 0);
    if (i == array.size() || array[i] != '[') return;
    ++i;
    for (std::size_t index = 0;; ++index) {
        i = skip_space(array, i);
        if (i == array.size() || array[i] == ']') return;
        const std::size_t end = skip_value(array, i);
        if (index >= first) out.push_back(array.substr(i, end - i));
        i = skip_space(array, end);
        if (i < array.size() && array[i] == ',') ++i;
    }
}

DecodeError check_payload(PacketType type, const Value& v) {
    switch (type) {
        case PacketType::connect: return v.IsObject() ? DecodeError::none : DecodeError::bad_payload;
        case PacketType::connect_error:
            return v.IsObject() || v.IsString() ? DecodeError::none : DecodeError::bad_payload;
        case PacketType::event:
            if (!v.IsArray() || v.Empty() || !v[0].IsString()) return DecodeError::bad_payload;
            if (is_reserved_event({v[0].GetString(), v[0].GetStringLength()})) return DecodeError::reserved_event;
            return v.Size() - 1 > kMaxArgs ? DecodeError::too_many_args : DecodeError::none;
        case PacketType::ack:
            if (!v.IsArray()) return DecodeError::bad_payload;
            return v.Size() > kMaxArgs ? DecodeError::too_many_args : DecodeError::none;
        case PacketType::disconnect:
        case PacketType::binary_event:
        case PacketType::binary_ack: break;
    }
    return DecodeError::bad_payload;
}

/// Reads the optional ack id at the front of `rest`.
DecodeError read_ack_id(PacketType type, std::string_view& rest, std::optional<std::uint64_t>& id) {
    std::size_t digits = 0;
    while (digits < rest.size() && is_digit(rest[digits])) ++digits;
    if (digits > 0) {
        if (type != PacketType::event && type != PacketType::ack) return DecodeError::bad_ack_id;
        std::uint64_t v = 0;
        // 17 digits are enough for any id up to kMaxAckId, even with a leading zero or two.
        if (digits > 17) return DecodeError::bad_ack_id;
        std::from_chars(rest.data(), rest.data() + digits, v);
        if (v > kMaxAckId) return DecodeError::bad_ack_id;
        id = v;
        rest.remove_prefix(digits);
    }
    if (type == PacketType::ack && !id) return DecodeError::bad_ack_id;
    return DecodeError::none;
}

/// Appends the event name as a JSON string; names made of plain ASCII (every channel name) are
/// copied as they are, anything else goes through the escaping encoder.
void append_event_name(std::string_view event, std::string& out) {
    for (const char c : event) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x80 || c == '"' || c == '\\') {
            append_json_string(event, out);
            return;
        }
    }
    out += '"';
    out += event;
    out += '"';
}

void append_namespace_prefix(std::string_view nsp, std::string& out) {
    if (nsp.empty() || nsp == kDefaultNamespace) return;
    out += nsp;
    out += ',';
}

}  // namespace

std::string_view packet_type_name(PacketType type) noexcept {
    switch (type) {
        case PacketType::connect: return "CONNECT";
        case PacketType::disconnect: return "DISCONNECT";
        case PacketType::event: return "EVENT";
        case PacketType::ack: return "ACK";
        case PacketType::connect_error: return "CONNECT_ERROR";
        case PacketType::binary_event: return "BINARY_EVENT";
        case PacketType::binary_ack: return "BINARY_ACK";
    }
    return "UNKNOWN";
}

std::string_view decode_error_name(DecodeError e) noexcept {
    switch (e) {
        case DecodeError::none: return "none";
        case DecodeError::empty: return "empty";
        case DecodeError::unknown_type: return "unknown_type";
        case DecodeError::binary_unsupported: return "binary_unsupported";
        case DecodeError::bad_namespace: return "bad_namespace";
        case DecodeError::bad_ack_id: return "bad_ack_id";
        case DecodeError::bad_json: return "bad_json";
        case DecodeError::bad_payload: return "bad_payload";
        case DecodeError::reserved_event: return "reserved_event";
        case DecodeError::too_big: return "too_big";
        case DecodeError::too_many_args: return "too_many_args";
    }
    return "unknown";
}

DecodeError decode(std::string_view text, Packet& out, std::size_t max_bytes) {
    out.nsp = kDefaultNamespace;
    out.ack_id.reset();
    out.data = {};
    out.event.clear();
    out.args.clear();
    if (text.empty()) return DecodeError::empty;
    if (text.size() > max_bytes) return DecodeError::too_big;
    if (text[0] < '0' || text[0] > '6') return DecodeError::unknown_type;
    out.type = static_cast<PacketType>(text[0] - '0');
    if (out.type == PacketType::binary_event || out.type == PacketType::binary_ack) {
        return DecodeError::binary_unsupported;
    }

    std::string_view rest = text.substr(1);
    if (!rest.empty() && rest[0] == '/') {
        // As socket.io's parser does: the namespace runs to the first ',' or to the end ("40/admin").
        const std::size_t comma = rest.find(',');
        const std::string_view nsp = rest.substr(0, comma);
        if (!is_valid_namespace(nsp)) return DecodeError::bad_namespace;
        out.nsp = nsp;
        rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
    }
    if (const DecodeError e = read_ack_id(out.type, rest, out.ack_id); e != DecodeError::none) return e;

    out.data = rest;
    if (rest.empty()) {
        // CONNECT, DISCONNECT and CONNECT_ERROR may go without; an EVENT or ACK payload is mandatory.
        const bool optional = out.type == PacketType::connect || out.type == PacketType::disconnect ||
                              out.type == PacketType::connect_error;
        return optional ? DecodeError::none : DecodeError::bad_payload;
    }
    if (out.type == PacketType::disconnect) return DecodeError::bad_payload;
    // RapidJSON skips a UTF-8 byte order mark, even a partial one ("\xBB[1]" parses). No JSON value
    // starts with a non-ASCII byte, so refusing those keeps "validated" meaning what split_array assumes.
    if (static_cast<unsigned char>(rest[0]) >= 0x80) return DecodeError::bad_json;

    // Requests are small: a stack pool keeps the usual parse free of heap allocation. Iterative
    // parsing so nesting depth cannot exhaust the stack; the encoding check keeps invalid UTF-8
    // out of anything echoed back.
    alignas(16) char pool[2048];
    Allocator allocator(pool, sizeof pool);
    Document doc(&allocator);
    doc.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(rest.data(), rest.size());
    if (doc.HasParseError()) return DecodeError::bad_json;
    if (const DecodeError e = check_payload(out.type, doc); e != DecodeError::none) return e;

    if (out.type == PacketType::event) {
        out.event.assign(doc[0].GetString(), doc[0].GetStringLength());
        // The input's bytes are valid UTF-8, but RapidJSON turns an escaped lone surrogate
        // ("\uDCCC") into bytes that are not; an event name is echoed back in errors, so refuse it
        // (found by socketio_fuzz).
        if (!is_valid_utf8(out.event)) return DecodeError::bad_json;
        split_array(rest, 1, out.args);
    } else if (out.type == PacketType::ack) {
        split_array(rest, 0, out.args);
    }
    return DecodeError::none;
}

void encode_event(std::string_view event, std::string_view json, std::string& out) {
    out.reserve(out.size() + event.size() + json.size() + 8);
    begin_event(event, out);
    out += json;
    out += ']';
}

void begin_event(std::string_view event, std::string& out) {
    out += "42[";
    append_event_name(event, out);
    out += ',';
}

void encode_ack(std::uint64_t id, std::string_view json, std::string& out) {
    char num[20];
    out += "43";
    out.append(num, static_cast<std::size_t>(std::to_chars(num, num + sizeof num, id).ptr - num));
    out += '[';
    out += json;
    out += ']';
}

void encode_connect(std::string_view sid, std::string& out) {
    out += "40{\"sid\":";
    append_json_string(sid, out);
    out += '}';
}

void encode_connect(std::string_view sid, std::string_view pid, std::string& out) {
    out += "40{\"sid\":";
    append_json_string(sid, out);
    out += ",\"pid\":";
    append_json_string(pid, out);
    out += '}';
}

std::optional<RecoveryClaim> connect_recovery_claim(std::string_view payload) {
    if (payload.empty()) return std::nullopt;
    Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(payload.data(), payload.size());
    if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
    const auto pid = doc.FindMember("pid");
    const auto offset = doc.FindMember("offset");
    if (pid == doc.MemberEnd() || !pid->value.IsString() || offset == doc.MemberEnd() || !offset->value.IsString())
        return std::nullopt;
    const std::string_view pid_text(pid->value.GetString(), pid->value.GetStringLength());
    const std::string_view offset_text(offset->value.GetString(), offset->value.GetStringLength());
    if (pid_text.empty() || pid_text.size() > kMaxPidLength) return std::nullopt;
    for (const char c : pid_text)
        if (!(is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_'))
            return std::nullopt;
    if (offset_text.empty() || offset_text.size() > 20) return std::nullopt;
    RecoveryClaim claim;
    const auto [end, ec] = std::from_chars(offset_text.data(), offset_text.data() + offset_text.size(), claim.offset);
    if (ec != std::errc{} || end != offset_text.data() + offset_text.size()) return std::nullopt;
    claim.pid.assign(pid_text);
    return claim;
}

void encode_connect_error(std::string_view nsp, std::string_view message, std::string& out) {
    out += "44";
    append_namespace_prefix(nsp, out);
    out += "{\"message\":";
    append_json_string(message, out);
    out += '}';
}

void encode_disconnect(std::string_view nsp, std::string& out) {
    out += "41";
    append_namespace_prefix(nsp, out);
}

}  // namespace tickgate::protocol::socketio
