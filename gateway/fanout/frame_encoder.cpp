#include "gateway/fanout/frame_encoder.hpp"

#include "protocol/messages.hpp"
#include "protocol/socketio.hpp"
#include "protocol/topic.hpp"
#include "protocol/websocket_frame.hpp"

namespace tickgate::gateway::frames {
namespace {

void encode_update(const protocol::MarketUpdate& u, Wire wire, bool snapshot, std::string& out) {
    if (wire == Wire::v1) return protocol::encode_update(u, snapshot, out);
    protocol::socketio::begin_event(protocol::topic_channel(u.topic()), out);
    protocol::encode_update(u, snapshot, out);
    protocol::socketio::end_event(out);
}

}  // namespace

std::shared_ptr<Frame> live_update(const protocol::MarketUpdate& u, Wire wire, std::uint32_t topic_id) {
    auto frame = make_text_frame([&](std::string& out) { encode_update(u, wire, false, out); });
    frame->topic_id = topic_id;
    frame->ts_ns = u.ts_ns;
    return frame;
}

StatusFrames status(std::string_view status_json) {
    return StatusFrames{make_text_frame([&](std::string& out) { out += status_json; }),
                        make_text_frame([&](std::string& out) {
                            protocol::socketio::encode_event("status", status_json, out);
                        })};
}

void snapshot(const protocol::MarketUpdate& u, Wire wire, std::string& out) {
    append_text_frame(out, [&](std::string& o) { encode_update(u, wire, true, o); });
}

void message(Wire wire, std::string_view event, std::string_view v1_json, std::string& out) {
    append_text_frame(out, [&](std::string& o) {
        if (wire == Wire::v1)
            o += v1_json;
        else
            protocol::socketio::encode_event(event, v1_json, o);
    });
}

void socketio_ack(std::uint64_t ack_id, std::string_view body, std::string& out) {
    append_text_frame(out, [&](std::string& o) { protocol::socketio::encode_ack(ack_id, body, o); });
}

void packet(std::string_view encoded, std::string& out) {
    append_text_frame(out, [&](std::string& o) { o += encoded; });
}

void engineio_open(const protocol::engineio::OpenInfo& info, std::string& out) {
    append_text_frame(out, [&](std::string& o) { protocol::engineio::encode_open(info, o); });
}

void heartbeat_ping(Wire wire, std::string& out) {
    if (wire == Wire::socketio) return packet(protocol::engineio::kPing, out);
    protocol::append_frame(out, protocol::Opcode::ping, "");
}

void pong(std::string_view payload, std::string& out) { protocol::append_frame(out, protocol::Opcode::pong, payload); }

void close(std::uint16_t code, std::string_view reason, std::string& out) {
    protocol::append_close_frame(out, code, reason);
}

void to_polling_payload(std::string_view frames, std::string& body, bool& closed) {
    namespace eio = protocol::engineio;
    protocol::ServerFrame frame;
    while (protocol::take_server_frame(frames, frame)) {
        if (frame.opcode == protocol::Opcode::text) {
            eio::append_to_payload(frame.payload, body);
        } else if (frame.opcode == protocol::Opcode::close) {
            eio::append_to_payload(eio::kClose, body);
            closed = true;
        }
    }
}

}  // namespace tickgate::gateway::frames
