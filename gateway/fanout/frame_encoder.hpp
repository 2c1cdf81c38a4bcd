#pragma once
// Every frame the gateway sends is built here: live updates, snapshots, statuses, replies, acks and
// errors, Engine.IO packets, control frames, for protocol v1 and Socket.IO. Frames are WebSocket
// frames; the polling transport turns a run of them into an Engine.IO payload with
// to_polling_payload, so both transports send the same bytes inside.
//
// Shared frames (live updates, statuses) are built once and handed to every session; the others are
// appended straight into a session's queue (`out`), one whole frame per call.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "protocol/model/market_update.hpp"
#include "protocol/model/published_message.hpp"
#include "gateway/fanout/frame.hpp"
#include "gateway/fanout/subscriber.hpp"
#include "protocol/engineio.hpp"

namespace tickgate::gateway::frames {

/// A live ticker or trade (v1), once per update, by the engine; socketio_live wraps it for Socket.IO.
std::shared_ptr<Frame> live_update(const protocol::MarketUpdate& u, std::uint32_t topic_id);
/// A client's published message (v1), once per message, by the engine; socketio_live wraps it too
/// (the event named after the room's channel).
std::shared_ptr<Frame> published_message(const protocol::PublishedMessage& m, std::uint32_t topic_id);
/// A book view's delta (v1), once per view change, by the engine.
std::shared_ptr<Frame> book_delta(std::shared_ptr<const BookDelta> delta, std::uint32_t topic_id);
/// The Socket.IO form of a v1 live frame, 42["<channel>",<its object>], from its bytes (once per
/// update per worker, on first need). A nonzero `offset` (Socket.IO connection state recovery) is
/// added as a last string argument: 42["<channel>",<its object>,"<offset>"].
std::shared_ptr<Frame> socketio_live(const Frame& v1, std::string_view channel, std::uint64_t offset = 0);
/// A book delta built for one session (a slow client's merged deltas).
void book_delta(const BookDelta& delta, Wire wire, std::string& out);
/// A book view's state, sent after a subscribe ack ("snapshot":true, no prev_seq).
void book_snapshot(std::string_view topic, std::uint64_t seq, std::int64_t ts_ns, const protocol::OrderBook& view,
                   Wire wire, std::string& out);
/// A stored live message of a topic without a latest value (a trade, a room's message), from the
/// history, as a --history-snapshot message: its v1 object with "snapshot":true, or for Socket.IO
/// the event named after the topic's channel carrying it.
void history_snapshot(const Frame& v1, std::string_view topic, Wire wire, std::string& out);
/// A feed status change for both wires.
StatusFrames status(std::string_view status_json);
/// An operator's announcement for both wires, once per announcement: v1 {"type":"broadcast",...},
/// Socket.IO 42["<event>",<data>] (a polling session sends the same frame's payload).
StatusFrames announcement(const protocol::Announcement& a);

/// The latest value of a topic, sent after a subscribe ack ("snapshot":true).
void snapshot(const protocol::MarketUpdate& u, Wire wire, std::string& out);
/// A reply object: as it is for v1; for Socket.IO the event `event` carrying it.
void message(Wire wire, std::string_view event, std::string_view v1_json, std::string& out);
/// 43<id>[<body>]: the answer to a Socket.IO event that asked for an ack.
void socketio_ack(std::uint64_t ack_id, std::string_view body, std::string& out);
/// One Engine.IO/Socket.IO packet already encoded, as a text frame.
void packet(std::string_view encoded, std::string& out);
void engineio_open(const protocol::engineio::OpenInfo& info, std::string& out);
/// The server's heartbeat: a WebSocket ping for v1, the Engine.IO ping packet for Socket.IO.
void heartbeat_ping(Wire wire, std::string& out);
/// The answer to a client's WebSocket ping.
void pong(std::string_view payload, std::string& out);
void close(std::uint16_t code, std::string_view reason, std::string& out);

/// Polling: appends the payloads of server frames (unmasked, whole) to a polling body, joined with
/// "\x1e". A close frame becomes the Engine.IO close packet and sets `closed`.
void to_polling_payload(std::string_view frames, std::string& body, bool& closed);

}  // namespace tickgate::gateway::frames
