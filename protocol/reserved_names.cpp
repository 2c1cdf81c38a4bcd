#include "protocol/reserved_names.hpp"

#include <array>

namespace tickgate::protocol {
namespace {

constexpr std::array<std::string_view, 23> kReserved = {
    // What the gateway sends: v1 message types, and the Socket.IO events carrying them.
    "message", "error", "welcome", "status", "subscribed", "unsubscribed", "topics", "pong", "authenticated",
    "token_expiring", "published", "broadcast",
    // What it takes: v1 ops and the Socket.IO events a client emits.
    "subscribe", "unsubscribe", "list", "ping", "auth", "refresh", "publish",
    // Socket.IO's own events (the client library handles them and never passes them on).
    "connect", "connect_error", "disconnect", "disconnecting",
};

}  // namespace

std::span<const std::string_view> reserved_names() noexcept { return kReserved; }

bool is_reserved_name(std::string_view name) noexcept {
    for (auto r : kReserved)
        if (r == name) return true;
    return false;
}

}  // namespace tickgate::protocol
