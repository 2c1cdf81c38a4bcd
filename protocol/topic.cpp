#include "protocol/topic.hpp"

#include <array>

namespace tickgate::protocol {
namespace {

constexpr std::array<std::string_view, 12> kReserved = {
    "message", "error", "welcome", "status", "subscribed", "unsubscribed", "topics", "pong", "connect", "disconnect",
    "authenticated", "token_expiring",
};

bool is_channel_char(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }
bool is_symbol_char(char c) noexcept { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

}  // namespace

bool is_reserved_channel(std::string_view channel) noexcept {
    for (auto r : kReserved) {
        if (r == channel) return true;
    }
    return false;
}

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

EntryKind classify_entry(std::string_view entry) noexcept {
    if (entry.size() > kMaxTopicLength) return EntryKind::invalid;
    const auto dot = entry.find('.');
    if (dot == std::string_view::npos) return EntryKind::invalid;
    const auto channel = entry.substr(0, dot);
    const auto symbol = entry.substr(dot + 1);
    const bool any_channel = channel == "*";
    const bool any_symbol = symbol == "*";
    if (!any_channel && !is_valid_channel(channel)) return EntryKind::invalid;
    if (!any_symbol && !is_valid_symbol(symbol)) return EntryKind::invalid;
    return any_channel || any_symbol ? EntryKind::pattern : EntryKind::topic;
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
