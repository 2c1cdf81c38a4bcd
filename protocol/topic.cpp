#include "protocol/topic.hpp"

#include "protocol/reserved_names.hpp"

namespace tickgate::protocol {
namespace {

bool is_channel_char(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }
bool is_symbol_char(char c) noexcept { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool is_room_char(char c) noexcept { return is_channel_char(c) || c == '-'; }

}  // namespace

bool is_reserved_channel(std::string_view channel) noexcept { return is_reserved_name(channel); }

bool is_valid_channel(std::string_view channel) noexcept {
    if (channel.empty()) return false;
    for (char c : channel) {
        if (!is_channel_char(c)) return false;
    }
    return !is_reserved_channel(channel);
}

bool is_valid_symbol(std::string_view symbol) noexcept {
    const auto dash = symbol.find('-');
    if (dash == std::string_view::npos || dash == 0 || dash + 1 == symbol.size()) return false;
    for (std::size_t i = 0; i < symbol.size(); ++i) {
        if (i != dash && !is_symbol_char(symbol[i])) return false;
    }
    return true;
}

bool is_valid_room(std::string_view room) noexcept {
    if (room.empty() || room.size() > kMaxRoomLength) return false;
    for (char c : room)
        if (!is_room_char(c)) return false;
    return true;
}

bool is_market_channel(std::string_view channel) noexcept {
    return channel == "ticker" || channel == "book" || channel == "book50" || channel == "trade";
}

EntryKind classify_entry(std::string_view entry) noexcept {
    if (entry.size() > kMaxTopicLength) return EntryKind::invalid;
    const auto dot = entry.find('.');
    if (dot == std::string_view::npos) return EntryKind::invalid;
    const auto channel = entry.substr(0, dot);
    const auto symbol = entry.substr(dot + 1);
    const bool any_channel = channel == "*";
    const bool any_symbol = symbol == "*";
    if (!any_channel && !is_valid_channel(channel)) return EntryKind::invalid;
    if (any_symbol) return EntryKind::pattern;
    if (is_valid_symbol(symbol)) return any_channel ? EntryKind::pattern : EntryKind::topic;
    // A room belongs to one channel: "*.lobby" would reach rooms of channels not yet thought of.
    if (!any_channel && is_valid_room(symbol)) return EntryKind::room;
    return EntryKind::invalid;
}

ThrottledEntry parse_throttled_entry(std::string_view entry) noexcept {
    const auto at = entry.find('@');
    if (at == std::string_view::npos) return {entry, 0, classify_entry(entry), {}};
    ThrottledEntry out{entry.substr(0, at), 0, EntryKind::invalid, {}};
    const auto suffix = entry.substr(at + 1);
    for (const auto ms : kThrottleIntervalsMs) {
        if (suffix == (ms == 100    ? std::string_view{"100ms"}
                       : ms == 250  ? std::string_view{"250ms"}
                       : ms == 500  ? std::string_view{"500ms"}
                       : ms == 1000 ? std::string_view{"1000ms"}
                                    : std::string_view{"5000ms"}))
            out.interval_ms = ms;
    }
    if (out.interval_ms == 0) {
        out.error = "interval must be one of @100ms, @250ms, @500ms, @1000ms, @5000ms";
        return out;
    }
    const auto kind = classify_entry(out.base);
    if (kind == EntryKind::invalid) return out;  // the base's own error applies
    if (kind == EntryKind::room) {
        out.error = "a room cannot be throttled: a client message is never superseded";
        return out;
    }
    if (topic_channel(out.base) == "trade") {
        out.error = "a trade topic cannot be throttled: a trade is never superseded";
        return out;
    }
    out.kind = kind;
    return out;
}

bool is_room_topic(std::string_view topic) noexcept {
    if (topic.size() > kMaxTopicLength) return false;
    const auto dot = topic.find('.');
    return dot != std::string_view::npos && is_valid_channel(topic.substr(0, dot)) &&
           is_valid_room(topic.substr(dot + 1));
}

bool entry_matches(std::string_view entry, std::string_view topic) noexcept {
    if (entry == topic) return true;
    const auto edot = entry.find('.');
    const auto tdot = topic.find('.');
    if (edot == std::string_view::npos || tdot == std::string_view::npos) return false;
    const auto echan = entry.substr(0, edot);
    const auto esym = entry.substr(edot + 1);
    return (echan == "*" || echan == topic.substr(0, tdot)) && (esym == "*" || esym == topic.substr(tdot + 1));
}

std::string_view topic_channel(std::string_view topic) noexcept {
    return topic.substr(0, topic.find('.'));
}

std::string_view topic_symbol(std::string_view topic) noexcept {
    const auto dot = topic.find('.');
    return dot == std::string_view::npos ? std::string_view{} : topic.substr(dot + 1);
}

}  // namespace tickgate::protocol
