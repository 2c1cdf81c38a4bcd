#pragma once
// Parsing client requests (protocol v1 JSON text frames) with RapidJSON.

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/errors.hpp"

namespace tickgate::protocol {

enum class Op { subscribe, unsubscribe, list, ping, auth, refresh, publish };

/// Where a resuming client stands on one topic (protocol/README.md, "Resume"): the last seq it got
/// and the epoch of the seq space that seq belongs to (from a subscribe ack's "epochs").
struct SincePoint {
    std::string topic;       // an exact topic covered by the request's topics
    std::uint64_t epoch = 0;  // parsed from 16 hex digits (protocol/epoch.hpp); never 0
    std::uint64_t seq = 0;
};

/// At most this many "since" keys in one subscribe (as many as entries in "topics").
inline constexpr std::size_t kMaxSinceTopics = 1000;

struct Request {
    Op op = Op::ping;
    std::string id_json;              // the request's "id" re-serialized ("7", "\"abc\""), empty if absent
    std::vector<std::string> topics;  // subscribe/unsubscribe only; entries are not validated here
    std::string token;                // auth/refresh only: the JWT, not validated here
    std::string topic;                // publish only: an exact topic (channel.room), never a pattern
    std::string data;                 // publish only: the JSON value exactly as the client wrote it
    std::vector<SincePoint> since;    // subscribe only: the topics to resume, in the order written
};

struct RequestError {
    ErrorCode code = ErrorCode::bad_request;
    std::string message;  // human-readable, names the problem ("field 'topics' must be an array of strings")
    std::string id_json;  // echoed when the id itself was readable, else empty
};

/// Parses one text frame. Never throws. Rules: a JSON object nested at most kMaxJsonDepth levels
/// (json_text.hpp); "op" a known string; "id" absent, an integer or a string; "topics" a non-empty
/// array of strings for subscribe/unsubscribe (at most 1000 entries); "token" a string for
/// auth/refresh; for publish, "topic" an exact topic (a pattern is a bad_request; whether its
/// channel is publishable is the gateway's to say) and "data" any JSON value; unknown extra fields
/// are ignored. A subscribe may carry "since", an object of at most kMaxSinceTopics members, each
/// an exact topic covered by an entry of "topics" (the topic itself, or a pattern matching it) to
/// {"epoch": a 16-hex-digit string, "seq": an integer >= 0}; anything else in it is a bad_request
/// naming the problem.
std::variant<Request, RequestError> parse_request(std::string_view text);

/// The argument of a Socket.IO `subscribe` event given as an object, {"topics":[..],"since":{..}},
/// under the same rules as a v1 subscribe request. Never throws.
std::variant<Request, RequestError> parse_subscribe_object(std::string_view object_json);

/// The argument of a Socket.IO `publish` event, {"topic":..,"data":..}, under the same rules as a
/// v1 publish request (its depth counted from this object). Never throws.
std::variant<Request, RequestError> parse_publish_object(std::string_view object_json);

}  // namespace tickgate::protocol
