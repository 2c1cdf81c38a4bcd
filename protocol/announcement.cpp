#include "protocol/announcement.hpp"

#include "protocol/messages.hpp"
#include "protocol/topic.hpp"

namespace tickgate::protocol {

std::string_view event_name_problem(std::string_view event) noexcept {
    if (event.empty() || event.size() > kMaxEventNameLength) return "an event name is 1 to 27 characters";
    for (const char c : event)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return "an event name matches [a-z0-9_]{1,27}";
    // One list (protocol/reserved_names.hpp): message types, ops, and Socket.IO's own events.
    if (is_reserved_channel(event)) return "it is reserved (a message type or event of the protocol)";
    return {};
}

void encode_broadcast(const Announcement& a, std::string& out) {
    out += R"({"type":"broadcast","event":)";
    append_json_string(a.event, out);
    out += R"(,"ts":)";
    out += std::to_string(a.ts_ns);
    out += R"(,"data":)";
    out += a.data;
    out += '}';
}

}  // namespace tickgate::protocol
