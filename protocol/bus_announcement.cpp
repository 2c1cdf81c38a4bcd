#include "protocol/bus_announcement.hpp"

#include <cstring>

#include "protocol/bus_publish.hpp"
#include "protocol/bus_update.hpp"
#include "protocol/little_endian.hpp"
#include "protocol/topic.hpp"

namespace tickgate::protocol {

const char* announcement_error_name(AnnouncementError e) noexcept {
    switch (e) {
    case AnnouncementError::none: return "none";
    case AnnouncementError::malformed: return "not a tickgate announcement";
    case AnnouncementError::bad_origin: return "origin 0";
    case AnnouncementError::bad_event: return "event name not [a-z0-9_]{1,27}";
    case AnnouncementError::bad_topic: return "topic neither empty nor an exact topic";
    case AnnouncementError::bad_data: return "data not one JSON value of at most 64 KiB";
    }
    return "unknown";
}

bool is_valid_event_name(std::string_view event) noexcept {
    if (event.empty() || event.size() > kMaxEventLength) return false;
    for (char c : event)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return true;
}

void append_bus_announcement(const Announcement& a, std::uint64_t origin, std::string& out) {
    out += static_cast<char>(kBusMagic);
    out += static_cast<char>(kAnnouncementVersion);
    le::append64(out, origin);
    le::append64(out, static_cast<std::uint64_t>(a.ts_ns));
    out += static_cast<char>(a.event.size() & 0xff);
    out += static_cast<char>(a.topic.size() & 0xff);
    out += a.event;
    out += a.topic;
    out += a.data;
}

AnnouncementError decode_bus_announcement(std::string_view message, std::uint64_t& origin, Announcement& out) {
    if (message.size() < kAnnouncementHeaderSize || static_cast<std::uint8_t>(message[0]) != kBusMagic ||
        static_cast<std::uint8_t>(message[1]) != kAnnouncementVersion)
        return AnnouncementError::malformed;
    const std::size_t event_size = static_cast<std::uint8_t>(message[18]);
    const std::size_t topic_size = static_cast<std::uint8_t>(message[19]);
    if (message.size() - kAnnouncementHeaderSize < event_size + topic_size) return AnnouncementError::malformed;
    const std::uint64_t from = le::load64(message.data() + 2);
    if (from == 0) return AnnouncementError::bad_origin;
    const std::string_view event = message.substr(kAnnouncementHeaderSize, event_size);
    const std::string_view topic = message.substr(kAnnouncementHeaderSize + event_size, topic_size);
    const std::string_view data = message.substr(kAnnouncementHeaderSize + event_size + topic_size);
    if (!is_valid_event_name(event)) return AnnouncementError::bad_event;
    if (!topic.empty() && classify_entry(topic) != EntryKind::topic && check_published_topic(topic) != PublishRefusal::none)
        return AnnouncementError::bad_topic;
    if (data.size() > kMaxAnnouncementData || !is_valid_json_value(data)) return AnnouncementError::bad_data;
    origin = from;
    out.event.assign(event);
    out.topic.assign(topic);
    out.data.assign(data);
    out.ts_ns = static_cast<std::int64_t>(le::load64(message.data() + 10));
    return AnnouncementError::none;
}

}  // namespace tickgate::protocol
