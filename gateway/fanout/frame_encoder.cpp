#include "gateway/fanout/frame_encoder.hpp"

#include "protocol/announcement.hpp"
#include "protocol/messages.hpp"
#include "protocol/publish_messages.hpp"
#include "protocol/socketio.hpp"
#include "protocol/topic.hpp"
#include "protocol/websocket_frame.hpp"

namespace tickgate::gateway::frames {
namespace {

// For Socket.IO, the event named after the topic's channel, carrying the v1 object.
template <typename Encode>
void in_wire(Wire wire, std::string_view topic, std::string& out, Encode&& encode) {
    if (wire == Wire::v1) return encode(out);
    protocol::socketio::begin_event(protocol::topic_channel(topic), out);
    encode(out);
    protocol::socketio::end_event(out);
}

void encode_update(const protocol::MarketUpdate& u, Wire wire, bool snapshot, std::string& out) {
    in_wire(wire, u.topic(), out, [&](std::string& o) {
        if (u.kind == protocol::UpdateKind::trade)
            protocol::encode_trade(u, o);
        else
            protocol::encode_update(u, snapshot, o);
    });
}

void encode_book_delta(const BookDelta& d, std::string& out) {
    protocol::BookMessage m;
    m.type = protocol::topic_channel(d.topic());
    m.topic = d.topic();
    m.seq = d.seq;
    m.prev_seq = d.prev_seq;
    m.ts_ns = d.ts_ns;
    m.bids = d.bids;
    m.asks = d.asks;
    m.checksum = d.checksum;
    m.price_decimals = d.price_decimals;
    m.size_decimals = d.size_decimals;
    protocol::encode_book(m, out);
}

}  // namespace

std::shared_ptr<Frame> live_update(const protocol::MarketUpdate& u, std::uint32_t topic_id) {
    auto frame = make_text_frame([&](std::string& out) { encode_update(u, Wire::v1, false, out); });
    frame->topic_id = topic_id;
    frame->ts_ns = u.ts_ns;
    frame->kind = u.kind;
    return frame;
}

std::shared_ptr<Frame> published_message(const protocol::PublishedMessage& m, std::uint32_t topic_id) {
    auto frame = make_text_frame([&](std::string& out) { protocol::encode_published_message(m, out); });
    frame->topic_id = topic_id;
    frame->ts_ns = m.ts_ns;
    frame->kind = protocol::UpdateKind::published;
    return frame;
}

std::shared_ptr<Frame> book_delta(std::shared_ptr<const BookDelta> delta, std::uint32_t topic_id) {
    auto frame = make_text_frame([&](std::string& out) { encode_book_delta(*delta, out); });
    frame->topic_id = topic_id;
    frame->ts_ns = delta->ts_ns;
    frame->kind = protocol::UpdateKind::book;
    frame->book = std::move(delta);
    return frame;
}

std::shared_ptr<Frame> socketio_live(const Frame& v1, std::string_view channel, std::uint64_t offset) {
    std::string_view bytes = v1.bytes();
    protocol::ServerFrame parsed;
    protocol::take_server_frame(bytes, parsed);
    const std::string_view payload = parsed.payload;
    auto frame = make_text_frame([&](std::string& out) {
        protocol::socketio::begin_event(channel, out);
        out += payload;
        if (offset != 0) {
            // socket.io-client keeps a string last argument as the offset to recover from.
            out += ",\"";
            out += std::to_string(offset);
            out += '"';
        }
        protocol::socketio::end_event(out);
    });
    frame->topic_id = v1.topic_id;
    frame->ts_ns = v1.ts_ns;
    frame->kind = v1.kind;
    frame->book = v1.book;
    return frame;
}

void book_delta(const BookDelta& delta, Wire wire, std::string& out) {
    append_text_frame(out, [&](std::string& o) {
        in_wire(wire, delta.topic(), o, [&](std::string& oo) { encode_book_delta(delta, oo); });
    });
}

void book_snapshot(std::string_view topic, std::uint64_t seq, std::int64_t ts_ns, const protocol::OrderBook& view,
                   Wire wire, std::string& out) {
    append_text_frame(out, [&](std::string& o) {
        in_wire(wire, topic, o, [&](std::string& oo) {
            const auto channel = protocol::topic_channel(topic);
            const std::size_t depth = channel == "book50" ? protocol::kBook50ViewDepth : protocol::kBookViewDepth;
            protocol::encode_book_snapshot(channel, topic, seq, ts_ns, view, depth, oo);
        });
    });
}

void history_snapshot(const Frame& v1, std::string_view topic, Wire wire, std::string& out) {
    std::string_view bytes = v1.bytes();
    protocol::ServerFrame parsed;
    protocol::take_server_frame(bytes, parsed);
    std::string json;
    json.reserve(parsed.payload.size() + 16);
    // Every live object has its "ts"; should one not, it goes as it was stored rather than not at all.
    if (!protocol::append_as_snapshot(parsed.payload, json)) json.assign(parsed.payload);
    message(wire, protocol::topic_channel(topic), json, out);
}

StatusFrames status(std::string_view status_json) {
    return StatusFrames{make_text_frame([&](std::string& out) { out += status_json; }),
                        make_text_frame([&](std::string& out) {
                            protocol::socketio::encode_event("status", status_json, out);
                        })};
}

StatusFrames announcement(const protocol::Announcement& a) {
    return StatusFrames{make_text_frame([&](std::string& out) { protocol::encode_broadcast(a, out); }),
                        make_text_frame([&](std::string& out) {
                            protocol::socketio::encode_event(a.event, a.data, out);
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
