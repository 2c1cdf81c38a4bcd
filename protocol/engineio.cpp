#include "protocol/engineio.hpp"

#include <algorithm>
#include <charconv>

#include "protocol/base64.hpp"
#include "protocol/utf8.hpp"

namespace tickgate::protocol::engineio {
namespace {

bool is_type_digit(char c) noexcept { return c >= '0' && c <= '6'; }

/// One packet of a polling payload: a text packet, or "b" + base64 (always a message).
DecodeError decode_payload_packet(std::string_view text, Packet& out, std::string& binary_storage) {
    if (text.empty()) return DecodeError::empty_packet;
    if (text[0] != 'b') return decode_text_packet(text, out);
    const std::size_t start = binary_storage.size();
    if (!append_base64_decoded(text.substr(1), binary_storage)) return DecodeError::bad_base64;
    out = Packet{PacketType::message, true,
                 std::string_view(binary_storage).substr(start, binary_storage.size() - start)};
    return DecodeError::none;
}

}  // namespace

std::string_view packet_type_name(PacketType type) noexcept {
    switch (type) {
        case PacketType::open: return "open";
        case PacketType::close: return "close";
        case PacketType::ping: return "ping";
        case PacketType::pong: return "pong";
        case PacketType::message: return "message";
        case PacketType::upgrade: return "upgrade";
        case PacketType::noop: return "noop";
    }
    return "unknown";
}

std::string_view decode_error_name(DecodeError e) noexcept {
    switch (e) {
        case DecodeError::none: return "none";
        case DecodeError::empty_packet: return "empty_packet";
        case DecodeError::unknown_type: return "unknown_type";
        case DecodeError::bad_base64: return "bad_base64";
        case DecodeError::invalid_utf8: return "invalid_utf8";
        case DecodeError::too_big: return "too_big";
        case DecodeError::too_many_packets: return "too_many_packets";
    }
    return "unknown";
}

DecodeError decode_text_packet(std::string_view frame, Packet& out) noexcept {
    if (frame.empty()) return DecodeError::empty_packet;
    // Over WebSocket binary data travels as binary frames, so "b..." is not a packet here.
    if (!is_type_digit(frame[0])) return DecodeError::unknown_type;
    out = Packet{static_cast<PacketType>(frame[0] - '0'), false, frame.substr(1)};
    return DecodeError::none;
}

DecodeError decode_payload(std::string_view body, const PayloadLimits& limits, std::vector<Packet>& out,
                           std::string& binary_storage) {
    out.clear();
    binary_storage.clear();
    if (body.size() > limits.max_payload_bytes) return DecodeError::too_big;
    if (!is_valid_utf8(body)) return DecodeError::invalid_utf8;
    // Base64 decodes to 3/4 of its length, so the decoded bytes of all "b" packets together fit in
    // body.size(): with this one reservation the views handed out below never dangle.
    if (body.find('b') != std::string_view::npos) binary_storage.reserve(body.size());

    std::size_t pos = 0;
    while (true) {
        const std::size_t end = std::min(body.find(kSeparator, pos), body.size());
        if (out.size() == limits.max_packets) return DecodeError::too_many_packets;
        Packet p;
        if (const DecodeError e = decode_payload_packet(body.substr(pos, end - pos), p, binary_storage);
            e != DecodeError::none) {
            return e;
        }
        out.push_back(p);
        if (end == body.size()) return DecodeError::none;
        pos = end + 1;  // a separator at the very end leaves an empty last packet: refused above
    }
}

void append_packet(PacketType type, std::string_view data, std::string& out) {
    out += static_cast<char>('0' + static_cast<int>(type));
    out += data;
}

void append_to_payload(std::string_view encoded_packet, std::string& body) {
    if (!body.empty()) body += kSeparator;
    body += encoded_packet;
}

void append_binary_to_payload(std::string_view bytes, std::string& body) {
    if (!body.empty()) body += kSeparator;
    body += 'b';
    append_base64(bytes, body);
}

void encode_payload(std::span<const Packet> packets, std::string& out) {
    const std::size_t start = out.size();
    for (const Packet& p : packets) {
        if (out.size() != start) out += kSeparator;
        if (p.binary) {
            out += 'b';
            append_base64(p.data, out);
        } else {
            append_packet(p.type, p.data, out);
        }
    }
}

void encode_open(const OpenInfo& info, std::string& out) {
    char num[20];
    const auto number = [&](std::uint64_t v) {
        out.append(num, static_cast<std::size_t>(std::to_chars(num, num + sizeof num, v).ptr - num));
    };
    // The sid is ours and URL-safe (is_valid_sid), so it needs no JSON escaping.
    out += "0{\"sid\":\"";
    out += info.sid;
    out += info.offer_websocket_upgrade ? "\",\"upgrades\":[\"websocket\"],\"pingInterval\":"
                                        : "\",\"upgrades\":[],\"pingInterval\":";
    number(info.ping_interval_ms);
    out += ",\"pingTimeout\":";
    number(info.ping_timeout_ms);
    out += ",\"maxPayload\":";
    number(info.max_payload);
    out += '}';
}

std::string_view query_error_name(QueryError e) noexcept {
    switch (e) {
        case QueryError::none: return "none";
        case QueryError::missing_eio: return "missing_eio";
        case QueryError::unsupported_eio: return "unsupported_eio";
        case QueryError::missing_transport: return "missing_transport";
        case QueryError::unknown_transport: return "unknown_transport";
        case QueryError::bad_sid: return "bad_sid";
        case QueryError::duplicate_parameter: return "duplicate_parameter";
        case QueryError::too_long: return "too_long";
    }
    return "unknown";
}

bool is_valid_sid(std::string_view sid) noexcept {
    if (sid.empty() || sid.size() > kMaxSidLength) return false;
    for (const char c : sid) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '_';
        if (!ok) return false;
    }
    return true;
}

QueryError parse_query(std::string_view query, Query& out) noexcept {
    out = Query{};
    if (query.size() > kMaxQueryLength) return QueryError::too_long;
    std::string_view eio, transport, sid;
    bool have_eio = false, have_transport = false, have_sid = false;
    while (!query.empty()) {
        const std::size_t amp = std::min(query.find('&'), query.size());
        const std::string_view param = query.substr(0, amp);
        query.remove_prefix(std::min(amp + 1, query.size()));
        const std::size_t eq = param.find('=');
        const std::string_view name = param.substr(0, eq);
        const std::string_view value = eq == std::string_view::npos ? std::string_view{} : param.substr(eq + 1);
        const auto take = [&](bool& have, std::string_view& slot) {
            if (have) return false;
            have = true;
            slot = value;
            return true;
        };
        bool fresh = true;
        if (name == "EIO") fresh = take(have_eio, eio);
        else if (name == "transport") fresh = take(have_transport, transport);
        else if (name == "sid") fresh = take(have_sid, sid);
        if (!fresh) return QueryError::duplicate_parameter;
    }
    if (!have_eio) return QueryError::missing_eio;
    if (eio != "4") return QueryError::unsupported_eio;
    if (!have_transport) return QueryError::missing_transport;
    if (transport == "polling") out.transport = Transport::polling;
    else if (transport == "websocket") out.transport = Transport::websocket;
    else return QueryError::unknown_transport;
    if (have_sid) {
        if (!is_valid_sid(sid)) return QueryError::bad_sid;
        out.sid = sid;
    }
    return QueryError::none;
}

std::string_view target_query(std::string_view target) noexcept {
    const std::size_t q = target.find('?');
    if (q == std::string_view::npos) return {};
    target.remove_prefix(q + 1);
    return target.substr(0, target.find('#'));
}

HttpError http_error_for(QueryError e) noexcept {
    switch (e) {
        case QueryError::missing_transport:
        case QueryError::unknown_transport: return HttpError::unknown_transport;
        case QueryError::missing_eio:
        case QueryError::unsupported_eio: return HttpError::unsupported_protocol_version;
        case QueryError::bad_sid: return HttpError::unknown_sid;
        case QueryError::none:
        case QueryError::duplicate_parameter:
        case QueryError::too_long: return HttpError::bad_request;
    }
    return HttpError::bad_request;
}

void encode_http_error(HttpError e, std::string& out) {
    std::string_view message = "Bad request";
    switch (e) {
        case HttpError::unknown_transport: message = "Transport unknown"; break;
        case HttpError::unknown_sid: message = "Session ID unknown"; break;
        case HttpError::bad_handshake_method: message = "Bad handshake method"; break;
        case HttpError::bad_request: message = "Bad request"; break;
        case HttpError::forbidden: message = "Forbidden"; break;
        case HttpError::unsupported_protocol_version: message = "Unsupported protocol version"; break;
    }
    out += "{\"code\":";
    out += static_cast<char>('0' + static_cast<int>(e));
    out += ",\"message\":\"";
    out += message;
    out += "\"}";
}

}  // namespace tickgate::protocol::engineio
