#pragma once
// The one list of names no channel may have: every message type and Socket.IO event the gateway
// sends or takes. A channel's name is the `type` of its messages and, for Socket.IO clients, the
// name of their event, so a channel named like one of these would be mistaken for it (a `status`
// channel for feed statuses, a `publish` channel for the client's own publish event). Operators'
// announcement events (the admin API) are checked against it too. protocol/README.md lists it.

#include <span>
#include <string_view>

namespace tickgate::protocol {

/// Every reserved name, for documentation and tests.
std::span<const std::string_view> reserved_names() noexcept;
bool is_reserved_name(std::string_view name) noexcept;

}  // namespace tickgate::protocol
