#pragma once
// Parsing client requests (protocol v1 JSON text frames) with RapidJSON.

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/errors.hpp"

namespace tickgate::protocol {

enum class Op { subscribe, unsubscribe, list, ping, auth, refresh };

struct Request {
    Op op = Op::ping;
    std::string id_json;              // the request's "id" re-serialized ("7", "\"abc\""), empty if absent
    std::vector<std::string> topics;  // subscribe/unsubscribe only; entries are not validated here
    std::string token;                // auth/refresh only: the JWT, not validated here
};

struct RequestError {
    ErrorCode code = ErrorCode::bad_request;
    std::string message;  // human-readable, names the problem ("field 'topics' must be an array of strings")
    std::string id_json;  // echoed when the id itself was readable, else empty
};

/// Parses one text frame. Never throws. Rules: a JSON object; "op" a known string; "id" absent,
/// an integer or a string; "topics" a non-empty array of strings for subscribe/unsubscribe (at most
/// 1000 entries); "token" a string for auth/refresh; unknown extra fields are ignored.
std::variant<Request, RequestError> parse_request(std::string_view text);

}  // namespace tickgate::protocol
