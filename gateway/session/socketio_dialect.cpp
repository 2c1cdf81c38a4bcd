// Socket.IO v5 over Engine.IO v4 (protocol/socketio.hpp, protocol/engineio.hpp): Engine.IO
// packets in text frames (or polling POSTs), Socket.IO events mapped onto v1 requests
// (protocol/socketio_events.hpp), replies as events or acks. A WebSocket opened for the sid of a
// polling session starts as an upgrade probe (polling_upgrade.cpp).
#include <variant>

#include "gateway/fanout/frame_encoder.hpp"
#include "gateway/fanout/worker.hpp"
#include "gateway/session/dialect.hpp"
#include "gateway/session/polling_upgrade.hpp"
#include "gateway/session/replies.hpp"
#include "gateway/session/request_handler.hpp"
#include "gateway/session/session.hpp"
#include "gateway/session/socketio_recovery.hpp"
#include "gateway/stats.hpp"
#include "protocol/auth_messages.hpp"
#include "protocol/engineio.hpp"
#include "protocol/messages.hpp"
#include "protocol/socketio.hpp"
#include "protocol/socketio_events.hpp"

namespace tickgate::gateway {
namespace {

namespace eio = protocol::engineio;
namespace sio = protocol::socketio;

class SocketIoDialect final : public Dialect {
public:
    SocketIoDialect(Session& session, bool offers_websocket_upgrade)
        : session_(session), offers_upgrade_(offers_websocket_upgrade), upgrade_(session), recovery_(session) {}

    void on_open(std::string_view polling_sid) override {
        if (!polling_sid.empty()) {
            // One probe per session: a second WebSocket for the same sid is refused like an unknown one.
            if (!upgrade_.begin(polling_sid)) session_.close(1008, "Session ID unknown", true);
            return;
        }
        // Engine.IO handshake; the Socket.IO welcome follows the client's CONNECT.
        const auto& c = session_.config();
        eio::OpenInfo info;
        info.sid = session_.id();
        info.offer_websocket_upgrade = offers_upgrade_;
        info.ping_interval_ms = c.heartbeat_ms;
        info.ping_timeout_ms = c.heartbeat_ms;
        info.max_payload = c.max_message_bytes;
        session_.queue_built([&](std::string& out) { frames::engineio_open(info, out); });
    }

    void on_text(std::string_view frame) override {
        eio::Packet packet;
        if (const auto error = eio::decode_text_packet(frame, packet); error != eio::DecodeError::none)
            return violation(eio::decode_error_name(error));
        switch (packet.type) {
        case eio::PacketType::message: return on_socketio_packet(packet.data);
        case eio::PacketType::pong: return;  // activity was noted on read
        case eio::PacketType::ping: {
            // Only an upgrade probe ("2probe") is a client ping in Engine.IO v4; answer it anyway.
            std::string pong;
            eio::append_packet(eio::PacketType::pong, packet.data, pong);
            session_.queue_text(pong);
            if (upgrade_.active() && packet.data == "probe") upgrade_.probe_answered();
            return;
        }
        case eio::PacketType::close: return session_.close(1000, "client closed", true);
        case eio::PacketType::upgrade:
            if (!upgrade_.active()) return;
            if (!upgrade_.target_open()) return session_.close(1008, "Session ID unknown", true);
            // "5" before "3probe" could have been read by the client: it did not follow the handshake.
            if (!session_.queue().empty()) return violation("upgrade before the probe was answered");
            return upgrade_.complete();
        case eio::PacketType::noop: return;
        case eio::PacketType::open: return violation("open packet from a client");
        }
    }

    void on_binary() override { violation("binary packet (attachments are not accepted)"); }

    void on_close() override { upgrade_.abandon(); }
    void on_end(std::uint16_t close_code) override {
        // As socket.io's server: a transport closed or lost, or a ping timeout, can be recovered
        // from; the client's own DISCONNECT, a malformed packet or a refusal cannot.
        const bool transport_ended = close_code == 1000 || close_code == 1001 || close_code == 1006;
        recovery_.on_end(connected_ && !client_disconnected_ && transport_ended);
    }
    void adopt_state(Dialect& from) override {
        auto& other = static_cast<SocketIoDialect&>(from);
        connected_ = other.connected_;
        recovery_.adopt(other.recovery_);
    }
    bool is_probe() const noexcept override { return upgrade_.active(); }
    int silent_heartbeats() const noexcept override { return 2; }

private:
    void on_socketio_packet(std::string_view data) {
        sio::Packet packet;
        if (const auto error = sio::decode(data, packet, session_.config().max_message_bytes);
            error != sio::DecodeError::none)
            return violation(sio::decode_error_name(error));
        if (packet.type == sio::PacketType::connect) return on_connect(packet);
        if (packet.type == sio::PacketType::disconnect) {
            client_disconnected_ = true;
            return session_.close(1000, "client disconnected", true);
        }
        if (packet.type != sio::PacketType::event) return;  // acks from the client: we never ask for any
        if (!connected_ || packet.nsp != sio::kDefaultNamespace)
            return violation("event before CONNECT or outside namespace /");
        if (!session_.admit_client_message()) return;
        // socket.send() events are answered with "message" events, never with an ack.
        const bool message_mode = packet.event == sio::kMessageEvent;
        auto parsed = sio::event_to_request(packet);
        const std::string_view id_json = std::holds_alternative<protocol::Request>(parsed)
                                             ? std::string_view(std::get<protocol::Request>(parsed).id_json)
                                             : std::string_view(std::get<protocol::RequestError>(parsed).id_json);
        auto replies = packet.ack_id && !message_mode ? Replies::socketio_ack(session_, *packet.ack_id)
                       : message_mode                 ? Replies::socketio_messages(session_, id_json)
                                                      : Replies::objects(session_, id_json);
        if (auto* error = std::get_if<protocol::RequestError>(&parsed)) {
            replies.error(error->code, error->message);
            replies.rejected();
            return;
        }
        const auto& request = std::get<protocol::Request>(parsed);
        if (request.op == protocol::Op::publish || request.op == protocol::Op::ping || request.op == protocol::Op::list)
            return handle_request(session_, request, replies);
        recovery_.tracking_coverage([&] { handle_request(session_, request, replies); });
    }

    void on_connect(const sio::Packet& packet) {
        if (packet.nsp != sio::kDefaultNamespace) {
            std::string reply;
            sio::encode_connect_error(packet.nsp, "Invalid namespace", reply);
            session_.queue_text(reply);
            return;
        }
        if (connected_) return;
        switch (session_.connect_with_token(protocol::connect_token(packet.data))) {
        case Session::ConnectVerdict::accepted: break;
        case Session::ConnectVerdict::invalid_token: return refuse_connect("invalid_token");
        case Session::ConnectVerdict::too_many_connections:
            refuse_connect("too many connections");
            return session_.close(4008, "too many connections", false);
        }
        recovery_.on_connect(sio::connect_recovery_claim(packet.data));
        connected_ = true;
        std::string reply;
        if (recovery_.enabled())
            sio::encode_connect(session_.id(), recovery_.pid(), reply);
        else
            sio::encode_connect(session_.id(), reply);
        session_.queue_text(reply);
        std::string welcome;
        protocol::encode_welcome(session_.id(), TICKGATE_VERSION, session_.config().heartbeat_ms,
                                 session_.config().publish_channels, welcome);
        session_.queue_built([&](std::string& out) { frames::message(Wire::socketio, "welcome", welcome, out); });
        if (const auto& identity = session_.identity()) {
            std::string json;
            protocol::encode_authenticated("", identity->claims.sub, identity->expires_at_ns(), json);
            session_.queue_built([&](std::string& out) { frames::message(Wire::socketio, "authenticated", json, out); });
        }
        session_.queue_stale_statuses();
        recovery_.restore();
    }

    /// CONNECT_ERROR, as socket.io's own server answers a middleware's refusal: the client's
    /// connect_error handler gets `message`.
    void refuse_connect(std::string_view message) {
        session_.stats().client_error(protocol::ErrorCode::invalid_token);
        std::string reply;
        sio::encode_connect_error(sio::kDefaultNamespace, message, reply);
        session_.queue_text(reply);
    }

    void violation(std::string_view what) { session_.close_malformed(what); }

    Session& session_;
    const bool offers_upgrade_;
    bool connected_ = false;  // the client's CONNECT to "/" was accepted
    bool client_disconnected_ = false;  // it sent DISCONNECT: nothing to keep for recovery
    PollingUpgrade upgrade_;
    SocketIoRecovery recovery_;
};

}  // namespace

std::unique_ptr<Dialect> make_socketio_dialect(Session& session, bool offers_websocket_upgrade) {
    return std::make_unique<SocketIoDialect>(session, offers_websocket_upgrade);
}

}  // namespace tickgate::gateway
