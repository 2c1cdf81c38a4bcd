#pragma once
// Socket.IO events a client emits, mapped onto protocol v1 requests, so the gateway serves both
// protocols with one request handler:
//
//   emit('subscribe', ['ticker.BTC-USD', 'ticker.*'], ack)   420["subscribe",["ticker.BTC-USD","ticker.*"]]
//   emit('subscribe', 'ticker.BTC-USD')                      42["subscribe","ticker.BTC-USD"]
//   emit('unsubscribe', [...], ack)                          {op: unsubscribe, topics}
//   emit('list', ack) / emit('ping', ack)                    {op: list} / {op: ping}; extra arguments ignored
//   send({op: 'subscribe', id: 1, topics: [...]})            42["message",{...}]: the object is a v1 request
//
// Acks are not part of the Request: the caller keeps Packet::ack_id and answers with encode_ack.

#include <string_view>
#include <variant>

#include "protocol/request.hpp"
#include "protocol/socketio.hpp"

namespace tickgate::protocol::socketio {

/// The event socket.send(x) emits; its argument is a v1 request object and its replies are v1
/// objects emitted back as "message" events.
inline constexpr std::string_view kMessageEvent = "message";

/// Maps a decoded EVENT packet to the v1 request it stands for. Errors are v1 errors
/// (ErrorCode::bad_request with a message naming the problem), to be answered, not to close the
/// connection: unknown event names, wrong argument types, and for "message" whatever
/// parse_request refuses (its id_json then set when the object's id was readable).
std::variant<Request, RequestError> event_to_request(const Packet& event);

}  // namespace tickgate::protocol::socketio
