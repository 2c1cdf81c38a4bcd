#include "bench/load/socketio.hpp"

namespace tickgate::load {

SocketIoPacket parse_socketio(std::string_view t) noexcept {
    using K = SocketIoPacket::Kind;
    SocketIoPacket p;
    if (t.empty()) return p.kind = K::malformed, p;
    switch (t[0]) {
    case '0': p.kind = K::open; return p;
    case '1': p.kind = K::close; return p;
    case '2': p.kind = K::ping; return p;
    case '4': break;
    default: return p;  // 3 pong, 5 upgrade, 6 noop
    }
    if (t.size() < 2) return p.kind = K::malformed, p;
    switch (t[1]) {
    case '0': p.kind = K::connected; return p;
    case '1': p.kind = K::disconnect; return p;
    case '4': p.kind = K::connect_error; return p;
    case '2': break;
    default: return p;
    }
    // 42[<namespace>,][<ack id>]["name",arg,...]
    auto rest = t.substr(2);
    if (!rest.empty() && rest[0] == '/') {
        const auto comma = rest.find(',');
        if (comma == std::string_view::npos) return p.kind = K::malformed, p;
        rest.remove_prefix(comma + 1);
    }
    while (!rest.empty() && rest[0] >= '0' && rest[0] <= '9') rest.remove_prefix(1);
    if (rest.size() < 4 || rest[0] != '[' || rest[1] != '"' || rest.back() != ']') return p.kind = K::malformed, p;
    const auto name_end = rest.find('"', 2);
    if (name_end == std::string_view::npos) return p.kind = K::malformed, p;
    p.kind = K::event;
    p.event = rest.substr(2, name_end - 2);
    auto after = rest.substr(name_end + 1);
    after.remove_suffix(1);  // the closing ']'
    if (!after.empty() && after[0] == ',') p.arg = after.substr(1);
    return p;
}

std::string socketio_subscribe(std::span<const std::string> topics) {
    std::string out = "42[\"subscribe\",[";
    for (std::size_t i = 0; i < topics.size(); ++i) {
        if (i) out += ',';
        out += '"';
        out += topics[i];  // topics and patterns contain no characters JSON would escape
        out += '"';
    }
    out += "]]";
    return out;
}

}  // namespace tickgate::load
