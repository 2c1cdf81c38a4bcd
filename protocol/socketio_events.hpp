#pragma once
// Socket.IO events a client emits, mapped onto protocol v1 requests, so the gateway serves both
// protocols with one request handler:
//
//   emit('subscribe', ['ticker.BTC-USD', 'ticker.*'], ack)   420["subscribe",["ticker.BTC-USD","ticker.*"]]
//   emit('subscribe', 'ticker.BTC-USD')                      42["subscribe","ticker.BTC-USD"]
//   emit('subscribe', {topics: [...], since: {...}}, ack)    a resume, as a v1 subscribe with since
//   emit('unsubscribe', [...], ack)                          {op: unsubscribe, topics}
//   emit('list', ack) / emit('ping', ack)                    {op: list} / {op: ping}; extra arguments ignored
//   send({op: 'subscribe', id: 1, topics: [...]})            42["message",{...}]: the object is a v1 request
//
// Acks are not part of the Request: the caller keeps Packet::ack_id and answers with encode_ack,
// whose argument is one of the ack bodies below. A request that asked for an ack hears about its
// errors there, not as separate "error" events:
//
//   subscribe ack   {"topics":["ticker.BTC-USD"],"epochs":{..}[,"recovered":{..}]}
//                   {"topics":[],"error":{"code":..}}   {"error":{"code":..}}
//   list ack        {"topics":["ticker.BTC-USD",...]}
//   ping ack        {"ts":1764090000123456789}

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/messages.hpp"
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

/// The first error a request met, as its ack reports it.
struct AckError {
    ErrorCode code = ErrorCode::bad_request;
    std::string message;
    std::vector<std::string> topics;
};

/// The ack body of subscribe/unsubscribe: "topics" (what was added or removed) when the request was
/// accepted, "error" when it met one; {} when neither.
/// A subscribe's ack also carries `extras` (epochs, recovered) when accepted.
void encode_topics_ack(bool accepted, std::span<const std::string> topics, const std::optional<AckError>& error,
                       std::string& out, const SubscribeAckExtras& extras = {});
/// The ack body of list.
void encode_list_ack(std::span<const std::string_view> topics, std::string& out);
/// The ack body of ping: the server's wall clock in ns.
void encode_pong_ack(std::int64_t ts_ns, std::string& out);

}  // namespace tickgate::protocol::socketio
