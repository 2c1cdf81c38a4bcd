#pragma once
// Socket.IO protocol v5 packets, carried in Engine.IO message packets. Pure code, no sockets.
//
//   packet = <type digit>[<#attachments>"-"][<namespace>","][<ack id>][<JSON payload>]
//   e.g. 0   40/admin,   420["subscribe",["ticker.BTC-USD"]]   4312[{"topics":[]}]
// (https://github.com/socketio/socket.io-protocol, 5th version). The namespace is omitted for "/".
//
// The decoder takes the data of an Engine.IO message (the text after its leading '4'); every
// encoder here writes a whole Engine.IO message packet, '4' included, ready to be sent as one
// WebSocket text frame or joined into a polling body with engineio::append_to_payload.
//
// Binary packets (BINARY_EVENT, BINARY_ACK, i.e. attachments) are refused: tickgate's requests are
// JSON only, and accepting attachments would mean holding state across frames for every client.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tickgate::protocol::socketio {

enum class PacketType : std::uint8_t {
    connect = 0,
    disconnect = 1,
    event = 2,
    ack = 3,
    connect_error = 4,
    binary_event = 5,
    binary_ack = 6,
};

std::string_view packet_type_name(PacketType type) noexcept;

inline constexpr std::string_view kDefaultNamespace = "/";
inline constexpr std::size_t kMaxNamespaceLength = 128;
inline constexpr std::size_t kMaxArgs = 16;            // arguments of an event or an ack, the name excluded
inline constexpr std::uint64_t kMaxAckId = (1ULL << 53) - 1;  // clients count acks in a JS number
inline constexpr std::size_t kDefaultMaxPacketBytes = 1'000'000;

/// A decoded packet. Views point into the decoded text (or at static storage for the default
/// namespace), so they are valid as long as that text is.
struct Packet {
    PacketType type = PacketType::event;
    std::string_view nsp = kDefaultNamespace;
    std::optional<std::uint64_t> ack_id;  // EVENT (when the client wants an ack) and ACK only
    std::string_view data;                // the JSON payload as sent; empty when there is none
    std::string event;                    // EVENT: the name (first array element), JSON escapes resolved
    std::vector<std::string_view> args;   // EVENT: raw JSON of each element after the name; ACK: of each element
};

/// Why a packet was refused. The Socket.IO spec says a malformed packet closes the connection; an
/// unknown but well-formed namespace is NOT an error here (answer it with encode_connect_error).
enum class DecodeError : std::uint8_t {
    none,
    empty,               // nothing after the Engine.IO '4'
    unknown_type,        // first character is not 0-6
    binary_unsupported,  // BINARY_EVENT or BINARY_ACK: attachments are not accepted
    bad_namespace,       // longer than kMaxNamespaceLength, control characters or invalid UTF-8
    bad_ack_id,          // over kMaxAckId, on a packet type that has none, or missing on an ACK
    bad_json,            // the payload is not one valid JSON value (UTF-8 checked)
    bad_payload,         // valid JSON of the wrong shape: CONNECT not an object, EVENT not a non-empty
                         // array starting with a string, ACK not an array, DISCONNECT with a payload
    reserved_event,      // EVENT named connect, connect_error, disconnect, disconnecting, newListener, removeListener
    too_big,             // text over the caller's max_bytes
    too_many_args,       // over kMaxArgs
};

std::string_view decode_error_name(DecodeError e) noexcept;

/// Decodes one Socket.IO packet: `text` is an Engine.IO message's data. Never throws on bad input;
/// `out` is reset first and may be reused across calls (its vector keeps its capacity).
DecodeError decode(std::string_view text, Packet& out, std::size_t max_bytes = kDefaultMaxPacketBytes);

// --- encoders: each appends a whole Engine.IO message packet ("4...") to `out` ------------------

/// 42["<event>",<json>]: an event with one argument, `json` already encoded (a v1 object, say).
/// The hot path for updates: one call per update, not per client; nothing is re-serialized.
void encode_event(std::string_view event, std::string_view json, std::string& out);

/// The same packet in two halves, so the argument can be encoded straight into `out` between them:
///   begin_event("ticker", out); encode_update(u, snapshot, out); end_event(out);
void begin_event(std::string_view event, std::string& out);
inline void end_event(std::string& out) { out += ']'; }

/// 43<id>[<json>], or 43<id>[] when `json` is empty: the answer to an event that carried ack id `id`.
void encode_ack(std::uint64_t id, std::string_view json, std::string& out);

/// 40{"sid":"<sid>"}: accepts the client's CONNECT to "/". `sid` is the Socket.IO id (distinct from
/// the Engine.IO one) and is JSON-escaped.
void encode_connect(std::string_view sid, std::string& out);

/// 40{"sid":"<sid>","pid":"<pid>"}: the same with connection state recovery on (Socket.IO 4.6+):
/// `pid` is the private session id the client sends back to recover. Both are JSON-escaped.
void encode_connect(std::string_view sid, std::string_view pid, std::string& out);

/// What a reconnecting client asks for in its CONNECT payload under connection state recovery:
/// socket.io-client merges {"pid":"<pid it was given>","offset":"<offset of the last event it
/// received>"} into its auth object. The offset is the last string argument of an event; tickgate
/// writes decimal message offsets, so one that is not 1 to 20 digits within 64 bits is no claim.
struct RecoveryClaim {
    std::string pid;
    std::uint64_t offset = 0;
};
inline constexpr std::size_t kMaxPidLength = 64;
/// The claim in a CONNECT payload, when it has a string pid (1 to kMaxPidLength of [A-Za-z0-9_-])
/// and a string offset; socket.io's server also recovers only when both are strings. Never throws.
std::optional<RecoveryClaim> connect_recovery_claim(std::string_view payload);

/// 44{"message":"<message>"}, or 44<nsp>,{"message":...} when `nsp` is not "/": refuses a CONNECT.
/// `nsp` must be one decode accepted (so it needs no escaping).
void encode_connect_error(std::string_view nsp, std::string_view message, std::string& out);

/// 41, or 41<nsp>,: the server ends the client's membership of a namespace.
void encode_disconnect(std::string_view nsp, std::string& out);

}  // namespace tickgate::protocol::socketio
