#pragma once
// The few pieces of an HTTP request the gateway reads itself: the WebSocket upgrade's accept key
// (RFC 6455 section 4.2.2) and query parameters (?subscribe=... on /ws; Engine.IO's query has
// its own stricter parser, engineio.hpp).

#include <cstddef>
#include <string>
#include <string_view>

namespace tickgate::protocol {

/// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key: base64(SHA-1(key + RFC 6455 GUID)).
std::string websocket_accept_key(std::string_view key);

/// Whether a Sec-WebSocket-Key is what RFC 6455 section 4.2.1 item 5 requires of one: base64
/// (section 4 of RFC 4648, padded) of exactly 16 bytes. Anything else is answered 400.
bool valid_websocket_key(std::string_view key);

/// Decodes %XX escapes and '+' (as a space, form encoding). A '%' not followed by two hex digits
/// is kept as it is.
std::string percent_decode(std::string_view in);

/// The value of the first `name` in a query string (no leading '?'), percent-decoded; empty when
/// absent or given without '='.
std::string query_param(std::string_view query, std::string_view name);

/// Which answer a request past the header limit gets: 414 when its request line did not end within
/// `limit` bytes, else 431. `unparsed` is what the parser had not consumed when it gave up. The
/// parser's target alone cannot tell: Beast looks for the end of the whole header before it parses
/// the request line, so a short line that arrived in its own read is still unparsed then.
int request_too_large_status(bool target_parsed, std::string_view unparsed, std::size_t limit);

}  // namespace tickgate::protocol
