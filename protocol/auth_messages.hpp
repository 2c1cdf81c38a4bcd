#pragma once
// The access-control messages of protocol v1 and Socket.IO (protocol/README.md, "Authentication
// and entitlements"): what the gateway says when a token is accepted or about to expire, and the
// token a Socket.IO CONNECT carries.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tickgate::protocol {

/// {"type":"authenticated"[,"id":..],"sub":..,"expires_at":<ns since epoch>}
void encode_authenticated(std::string_view id_json, std::string_view sub, std::int64_t expires_at_ns,
                          std::string& out);
/// {"sub":..,"expires_at":..}: the same, as a Socket.IO ack's body.
void encode_authenticated_ack(std::string_view sub, std::int64_t expires_at_ns, std::string& out);
/// {"type":"token_expiring","expires_at":<ns since epoch>}
void encode_token_expiring(std::int64_t expires_at_ns, std::string& out);

/// The CONNECT packet's payload ({"token":"..."}, socket.io-client's `auth` option): the token, or
/// nullopt when there is none (no payload, or no string "token" in it).
std::optional<std::string> connect_token(std::string_view payload);

}  // namespace tickgate::protocol
