#include "bench/load/upgrade.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace tickgate::load {
namespace {

std::string base64(const unsigned char* data, std::size_t n) {
    std::string out(4 * ((n + 2) / 3) + 1, '\0');
    const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
    out.resize(static_cast<std::size_t>(len));
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

std::string make_websocket_key() {
    unsigned char raw[16];
    RAND_bytes(raw, sizeof raw);
    return base64(raw, sizeof raw);
}

std::string expected_accept(std::string_view key) {
    std::string input(key);
    input.append("258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
    return base64(digest, sizeof digest);
}

std::string build_upgrade_request(std::string_view host, std::string_view target, std::string_view key) {
    std::string r;
    r.reserve(256 + target.size());
    r.append("GET ").append(target).append(" HTTP/1.1\r\nHost: ").append(host);
    r.append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ");
    r.append(key).append("\r\nUser-Agent: tickgate-load\r\n\r\n");
    return r;
}

UpgradeResponse parse_upgrade_response(std::string_view data, std::string_view accept) {
    UpgradeResponse r;
    const auto end = data.find("\r\n\r\n");
    if (end == std::string_view::npos) {
        if (data.size() > 16 * 1024) r.status = UpgradeResponse::Status::malformed;
        return r;
    }
    std::string_view head = data.substr(0, end + 2);
    const auto line_end = head.find("\r\n");
    const std::string_view status_line = head.substr(0, line_end);
    if (status_line.substr(0, 7) != "HTTP/1." || status_line.size() < 12 ||
        std::from_chars(status_line.data() + 9, status_line.data() + 12, r.http_status).ec != std::errc{}) {
        r.status = UpgradeResponse::Status::malformed;
        return r;
    }
    if (r.http_status != 101) {
        r.status = UpgradeResponse::Status::rejected;
        return r;
    }
    head.remove_prefix(line_end + 2);
    bool accepted = false;
    while (!head.empty()) {
        const auto eol = head.find("\r\n");
        const auto line = head.substr(0, eol);
        const auto colon = line.find(':');
        if (colon != std::string_view::npos && iequals(line.substr(0, colon), "Sec-WebSocket-Accept"))
            accepted = trim(line.substr(colon + 1)) == accept;
        head.remove_prefix(eol + 2);
    }
    r.status = accepted ? UpgradeResponse::Status::switched : UpgradeResponse::Status::malformed;
    r.header_bytes = end + 4;
    return r;
}

}  // namespace tickgate::load
