#include "bench/load/update_scan.hpp"

#include <charconv>

namespace tickgate::load {
namespace {

/// The position just after `"name":` (whitespace after the colon skipped), or npos. Keys are
/// searched with their quotes and colon, so "topic" does not match "topics". The search starts at
/// `hint` (where the previous field ended: the gateway writes topic, seq, ts, snapshot in that
/// order, so each is found at the next quote instead of after a scan from the start, which cost a
/// memchr and a memcmp per quote) and goes back to the start when the key is not after it.
std::size_t value_of(std::string_view text, std::string_view quoted_key_colon, std::size_t hint = 0) noexcept {
    auto at = hint < text.size() ? text.find(quoted_key_colon, hint) : std::string_view::npos;
    if (at == std::string_view::npos && hint > 0) at = text.substr(0, hint + quoted_key_colon.size() - 1).find(quoted_key_colon);
    if (at == std::string_view::npos) return at;
    auto p = at + quoted_key_colon.size();
    while (p < text.size() && (text[p] == ' ' || text[p] == '\t' || text[p] == '\n' || text[p] == '\r')) ++p;
    return p;
}

bool read_string(std::string_view text, std::size_t p, std::string_view& out) noexcept {
    if (p >= text.size() || text[p] != '"') return false;
    const auto end = text.find('"', p + 1);
    if (end == std::string_view::npos) return false;
    out = text.substr(p + 1, end - p - 1);
    return out.find('\\') == std::string_view::npos;
}

template <typename Int>
bool read_int(std::string_view text, std::size_t p, Int& out) noexcept {
    if (p >= text.size()) return false;
    const auto r = std::from_chars(text.data() + p, text.data() + text.size(), out);
    return r.ec == std::errc{};
}

}  // namespace

ScannedMessage scan_message(std::string_view text, std::string_view latency_key) noexcept {
    ScannedMessage m;
    if (text.empty() || text.front() != '{') {
        m.kind = ScannedMessage::Kind::malformed;
        return m;
    }
    const auto topic_at = value_of(text, "\"topic\":");
    if (topic_at == std::string_view::npos) {
        std::string_view type;
        const auto type_at = value_of(text, "\"type\":");
        if (type_at != std::string_view::npos && read_string(text, type_at, type)) {
            if (type == "subscribed") m.kind = ScannedMessage::Kind::subscribed;
            else if (type == "error") m.kind = ScannedMessage::Kind::error;
        }
        return m;
    }
    m.kind = ScannedMessage::Kind::malformed;
    if (!read_string(text, topic_at, m.topic)) return m;
    const auto seq_at = value_of(text, "\"seq\":", topic_at + m.topic.size() + 2);
    if (!read_int(text, seq_at, m.seq)) return m;
    const auto ts_at = value_of(text, "\"ts\":", seq_at);
    if (!read_int(text, ts_at, m.ts_ns)) return m;
    const auto snap_at = value_of(text, "\"snapshot\":", ts_at);
    m.snapshot = snap_at != std::string_view::npos && text.substr(snap_at, 4) == "true";
    m.seq_at = static_cast<std::uint32_t>(seq_at);
    m.fields_end = static_cast<std::uint32_t>(snap_at != std::string_view::npos ? snap_at : ts_at);
    if (!latency_key.empty()) {
        // Searched from ts on only, never back from the start: a key before ts is not in data.
        const auto sent_at = text.find(latency_key, ts_at);
        if (sent_at != std::string_view::npos && !read_int(text, value_of(text, latency_key, sent_at), m.sent_ns))
            m.sent_ns = 0;
    }
    m.kind = ScannedMessage::Kind::update;
    return m;
}

}  // namespace tickgate::load
