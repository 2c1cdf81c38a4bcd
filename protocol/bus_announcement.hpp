#pragma once
// Operator announcements between gateways (issue 16): a gateway's POST /api/broadcast reaches its
// own clients directly and every other gateway's through NATS, one message on <prefix>-announce
// (beside the per-topic subjects, outside <prefix>.>, so JetStream never stores one as a latest
// value and a gateway reading market data never takes one for it). Each carries the sending
// gateway's origin id, so a gateway drops its own when NATS hands them back.
// protocol/README.md, "Announcements on the bus".

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/model/published_message.hpp"

namespace tickgate::protocol {

inline constexpr std::uint8_t kAnnouncementVersion = 1;
inline constexpr std::size_t kAnnouncementHeaderSize = 20;  // magic, version, origin, ts, two lengths
inline constexpr std::size_t kMaxAnnouncementData = 65536;  // its JSON text, in bytes
inline constexpr std::size_t kMaxEventLength = 27;

enum class AnnouncementError { none, malformed, bad_origin, bad_event, bad_topic, bad_data };

const char* announcement_error_name(AnnouncementError e) noexcept;

/// The event grammar: [a-z0-9_]{1,27} (which names are reserved is the gateway's to refuse
/// before it sends).
bool is_valid_event_name(std::string_view event) noexcept;

/// [magic 0x54][version 1][origin u64][ts i64][event length u8][topic length u8][event][topic]
/// [data: the rest], integers little-endian. Appends it to `out`; origin must not be 0.
void append_bus_announcement(const Announcement& a, std::uint64_t origin, std::string& out);

/// Decodes and checks one: origin not 0, the event grammar, a topic that is empty or an exact
/// topic (market data or published), data one JSON value of at most kMaxAnnouncementData bytes.
/// On none, `origin` and `out` are set; otherwise neither is touched.
AnnouncementError decode_bus_announcement(std::string_view message, std::uint64_t& origin, Announcement& out);

}  // namespace tickgate::protocol
