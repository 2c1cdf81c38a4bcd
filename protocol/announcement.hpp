#pragma once
// An operator's announcement on the wire (POST /api/broadcast, protocol/README.md "Announcements"):
// the rules for its event name, and the v1 message. Socket.IO clients get the event itself,
// 42["<event>",<data>] (socketio::encode_event), so the name must never be one a client already
// listens to for something else.

#include <cstddef>
#include <string>
#include <string_view>

#include "protocol/model/published_message.hpp"

namespace tickgate::protocol {

inline constexpr std::size_t kMaxEventNameLength = 27;

/// Why `event` cannot name an announcement, or empty when it can: it must match [a-z0-9_]{1,27}
/// and be neither a reserved channel name (a message type: is_reserved_channel) nor a Socket.IO
/// lifecycle event (socketio::is_reserved_event). Whether a channel of that name exists is for the
/// gateway to check: it knows its topics.
std::string_view event_name_problem(std::string_view event) noexcept;

/// {"type":"broadcast","event":"<event>","ts":<ts_ns>,"data":<data>}; `data` must be one valid JSON
/// value and is appended as it is.
void encode_broadcast(const Announcement& a, std::string& out);

}  // namespace tickgate::protocol
