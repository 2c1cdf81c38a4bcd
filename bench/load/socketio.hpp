#pragma once
// Engine.IO v4 / Socket.IO v5 packets over one WebSocket, as far as a subscribing client needs:
// open (0), ping (2) answered with pong (3), namespace connect (40) and its answer, events (42).

#include <span>
#include <string>
#include <string_view>

namespace tickgate::load {

struct SocketIoPacket {
    enum class Kind {
        open,           // "0{...sid...}": answer with "40"
        ping,           // "2": answer with "3" (the server pings in v4)
        close,          // "1"
        connected,      // "40{...}": the namespace is connected; subscribe now
        connect_error,  // "44{...}"
        disconnect,     // "41"
        event,          // "42[...]": name and the first argument (raw JSON) below
        other,          // pong, noop, acks, ... nothing to do
        malformed,
    };
    Kind kind = Kind::other;
    std::string_view event;  // event: its name ("ticker")
    std::string_view arg;    // event: the first argument's JSON text, up to the closing ']' (exclusive)
};

/// Classifies one WebSocket text message of the Socket.IO transport; allocation-free.
SocketIoPacket parse_socketio(std::string_view text) noexcept;

/// `42["subscribe",["ticker.BTC-USD",...]]`
std::string socketio_subscribe(std::span<const std::string> topics);

}  // namespace tickgate::load
