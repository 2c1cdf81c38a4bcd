#include "protocol/http_request.hpp"

#include <openssl/sha.h>

#include <cctype>

#include "protocol/base64.hpp"

namespace tickgate::protocol {

std::string websocket_accept_key(std::string_view key) {
    static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    std::string input(key);
    input.append(guid);
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
    std::string out;
    append_base64(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest), out);
    return out;
}

bool valid_websocket_key(std::string_view key) {
    // 16 bytes are always 24 characters, the last two "==": checked before decoding anything.
    if (key.size() != 24 || !key.ends_with("==")) return false;
    std::string bytes;
    return append_base64_decoded(key, bytes) && bytes.size() == 16;
}

std::string percent_decode(std::string_view in) {
    std::string out;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '%' && i + 2 < in.size() && std::isxdigit(static_cast<unsigned char>(in[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
            out.push_back(static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16)));
            i += 2;
        } else {
            out.push_back(in[i] == '+' ? ' ' : in[i]);
        }
    }
    return out;
}

std::string query_param(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        const auto eq = pair.find('=');
        if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1));
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return {};
}

int request_too_large_status(bool target_parsed, std::string_view unparsed, std::size_t limit) {
    if (target_parsed) return 431;
    return unparsed.substr(0, limit).find("\r\n") == std::string_view::npos ? 414 : 431;
}

}  // namespace tickgate::protocol
