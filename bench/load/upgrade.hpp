#pragma once
// The HTTP/1.1 upgrade to WebSocket, client side, written and parsed by hand: one request out,
// one 101 response in, so no HTTP library is needed for the only HTTP exchange the tool makes.

#include <cstddef>
#include <string>
#include <string_view>

namespace tickgate::load {

/// A random 16-byte Sec-WebSocket-Key, base64 (24 characters).
std::string make_websocket_key();
/// base64(SHA-1(key + RFC 6455 GUID)): what the server must answer in Sec-WebSocket-Accept.
std::string expected_accept(std::string_view key);

std::string build_upgrade_request(std::string_view host, std::string_view target, std::string_view key);

struct UpgradeResponse {
    enum class Status { incomplete, switched, rejected, malformed };
    Status status = Status::incomplete;
    int http_status = 0;          // rejected: the status code (503 at the connection limit, ...)
    std::size_t header_bytes = 0; // switched: bytes of the response; anything after is WebSocket data
};

/// Parses the response read so far. `switched` needs status 101 and the right Sec-WebSocket-Accept.
UpgradeResponse parse_upgrade_response(std::string_view data, std::string_view expected_accept_value);

}  // namespace tickgate::load
