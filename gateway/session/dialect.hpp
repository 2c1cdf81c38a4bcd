#pragma once
// What a session's client bytes mean: protocol v1 (v1_dialect.cpp) or Socket.IO over Engine.IO
// (socketio_dialect.cpp). A dialect reads the client's messages, answers through its Session, and
// knows its own heartbeat; it never touches a socket.

#include <cstdint>
#include <memory>
#include <string_view>

namespace tickgate::gateway {

class Session;

class Dialect {
public:
    virtual ~Dialect() = default;

    /// The connection is open. v1: the welcome, then the ?subscribe= list `arg`. Socket.IO: the
    /// Engine.IO open packet; or, when `arg` is not empty, it is the sid of the polling session this
    /// WebSocket upgrades, and the session starts as a probe.
    virtual void on_open(std::string_view arg) = 0;
    /// A WebSocket text frame, or one Engine.IO packet from a polling POST.
    virtual void on_text(std::string_view text) = 0;
    virtual void on_binary() = 0;
    /// The session starts closing (a probe gives its polling session back).
    virtual void on_close() {}
    /// The session ends: it starts closing with `close_code`, or its connection was lost (1006).
    /// Its subscriptions are still held (Socket.IO keeps them for connection state recovery).
    virtual void on_end(std::uint16_t /*close_code*/) {}
    /// The session takes over another of the same dialect (Session::adopt): its protocol state,
    /// which `from` no longer has.
    virtual void adopt_state(Dialect& /*from*/) {}

    virtual bool is_probe() const noexcept { return false; }
    /// See LivenessPolicy::silent_heartbeats.
    virtual int silent_heartbeats() const noexcept = 0;
};

std::unique_ptr<Dialect> make_v1_dialect(Session& session);
std::unique_ptr<Dialect> make_socketio_dialect(Session& session, bool offers_websocket_upgrade);

}  // namespace tickgate::gateway
