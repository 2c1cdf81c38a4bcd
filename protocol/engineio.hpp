#pragma once
// Engine.IO protocol v4, the transport layer under Socket.IO: packets, HTTP long-polling payloads,
// the open (handshake) packet and the query string of /socket.io/ requests. Pure code, no sockets.
//
// Shape of the wire (https://github.com/socketio/engine.io-protocol, 4th version):
//   packet  = <type digit>[<data>]                  one per WebSocket text frame
//   binary  = a WebSocket binary frame, as is       (always a message packet)
//   payload = packet *("\x1e" packet)               one HTTP long-polling body
//             where a binary packet is "b" <base64 of the bytes>
// A text packet is the same bytes on both transports, so the gateway encodes a packet once and
// either sends it as a frame or joins it into a polling body with append_to_payload.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tickgate::protocol::engineio {

enum class PacketType : std::uint8_t { open = 0, close = 1, ping = 2, pong = 3, message = 4, upgrade = 5, noop = 6 };

std::string_view packet_type_name(PacketType type) noexcept;

inline constexpr char kSeparator = '\x1e';  // record separator between packets of a polling payload

// Whole packets the server sends as they are (WebSocket frame or polling packet).
inline constexpr std::string_view kPing = "2";
inline constexpr std::string_view kPongProbe = "3probe";  // answer to the client's "2probe" during an upgrade
inline constexpr std::string_view kNoop = "6";            // ends a pending polling GET during an upgrade
inline constexpr std::string_view kClose = "1";

struct Packet {
    PacketType type = PacketType::message;
    bool binary = false;     // message packets only: `data` is raw bytes, not text
    std::string_view data;   // text: the bytes after the type digit ("probe" of "2probe"); binary: the bytes
};

/// Why a client's packet or payload was refused. Any of them means: close the session (HTTP 400 on
/// the POST for polling, close the WebSocket).
enum class DecodeError : std::uint8_t {
    none,
    empty_packet,      // a frame with no type digit, or an empty packet between separators / at either end
    unknown_type,      // first byte is not 0-6 (or "b" outside a polling payload)
    bad_base64,        // "b" packet whose base64 is malformed
    invalid_utf8,      // a polling body that is not UTF-8 (WebSocket text frames are checked by FrameReader)
    too_big,           // over PayloadLimits::max_payload_bytes
    too_many_packets,  // over PayloadLimits::max_packets
};

std::string_view decode_error_name(DecodeError e) noexcept;

/// One WebSocket text frame. Every type is accepted here, whichever side may send it; which packets
/// a client may send when is the session's business. `out.data` views into `frame`.
DecodeError decode_text_packet(std::string_view frame, Packet& out) noexcept;

/// One WebSocket binary frame: always a binary message packet (Engine.IO v4 adds no type byte).
inline Packet binary_message(std::string_view frame) noexcept { return Packet{PacketType::message, true, frame}; }

struct PayloadLimits {
    std::size_t max_payload_bytes = 1'000'000;  // the maxPayload the open packet announces
    std::size_t max_packets = 256;              // a client batches what queued during one POST round trip
};

/// Splits one polling POST body into packets, appended to `out` (cleared first). Text packet data
/// views into `body`; bytes of "b" packets are decoded into `binary_storage` (cleared first, and
/// reserved once so it never reallocates: those views stay valid until the caller modifies it).
/// On error `out` holds the packets before the bad one; the caller should discard them all.
DecodeError decode_payload(std::string_view body, const PayloadLimits& limits, std::vector<Packet>& out,
                           std::string& binary_storage);

/// Appends the WebSocket text frame (or polling packet) `<type><data>`.
void append_packet(PacketType type, std::string_view data, std::string& out);

/// Appends one already-encoded text packet to a polling body, with the separator when `body` is not
/// empty. This is how queued frames become one GET response.
void append_to_payload(std::string_view encoded_packet, std::string& body);

/// Appends a binary message to a polling body as "b" + base64, with the separator when needed.
void append_binary_to_payload(std::string_view bytes, std::string& body);

/// Joins packets into one polling body (binary ones as "b" + base64).
void encode_payload(std::span<const Packet> packets, std::string& out);

struct OpenInfo {
    std::string_view sid;                  // the Engine.IO session id; a-z A-Z 0-9 '-' '_' (see is_valid_sid)
    bool offer_websocket_upgrade = true;   // polling sessions: ["websocket"]; WebSocket sessions: []
    std::uint32_t ping_interval_ms = 25000;
    std::uint32_t ping_timeout_ms = 20000;
    std::uint64_t max_payload = 1'000'000;
};

/// Appends the open packet: 0{"sid":"..","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}
void encode_open(const OpenInfo& info, std::string& out);

// --- query string of /socket.io/?EIO=4&transport=polling&sid=...&t=... -----------------------

enum class Transport : std::uint8_t { polling, websocket };

struct Query {
    Transport transport = Transport::polling;
    std::string_view sid;  // empty when absent (a new session); views into the query string
};

/// Why a request's query is refused; every one is answered with HTTP 400 (or a closed WebSocket).
enum class QueryError : std::uint8_t {
    none,
    missing_eio,         // no EIO parameter
    unsupported_eio,     // EIO is not exactly "4" (socket.io-client 2.x speaks 3)
    missing_transport,
    unknown_transport,   // neither "polling" nor "websocket"
    bad_sid,             // empty, too long or characters a sid of ours never has
    duplicate_parameter, // EIO, transport or sid given twice
    too_long,            // query over kMaxQueryLength
};

std::string_view query_error_name(QueryError e) noexcept;

inline constexpr std::size_t kMaxQueryLength = 2048;
inline constexpr std::size_t kMaxSidLength = 64;

/// True for 1..kMaxSidLength characters of [A-Za-z0-9_-] (the URL-safe base64 alphabet).
bool is_valid_sid(std::string_view sid) noexcept;

/// Parses the part after '?' of the request target. Unknown parameters (the client's own `query`
/// option, the cache-busting `t`) are ignored; values are compared without percent-decoding, since
/// no valid value needs any.
QueryError parse_query(std::string_view query, Query& out) noexcept;

/// The query string of a request target ("/socket.io/?EIO=4" -> "EIO=4"); empty when there is none.
std::string_view target_query(std::string_view target) noexcept;

/// The body engine.io's own server sends with its HTTP 400s, e.g. {"code":0,"message":"Transport unknown"}
/// (clients only look at the status; the body helps whoever reads the logs).
enum class HttpError : std::uint8_t {
    unknown_transport = 0,
    unknown_sid = 1,
    bad_handshake_method = 2,
    bad_request = 3,
    forbidden = 4,
    unsupported_protocol_version = 5,
};
void encode_http_error(HttpError e, std::string& out);
/// The HttpError a QueryError is reported as.
HttpError http_error_for(QueryError e) noexcept;

}  // namespace tickgate::protocol::engineio
