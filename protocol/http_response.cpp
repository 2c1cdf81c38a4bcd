#include "protocol/http_response.hpp"

#include <algorithm>

namespace tickgate::protocol {

std::string http_response(int status, std::string_view reason, std::string_view content_type, std::string_view body,
                          bool keep_alive, std::string_view extra_headers) {
    std::string r = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\nServer: tickgate\r\n";
    if (!content_type.empty()) r += "Content-Type: " + std::string(content_type) + "\r\n";
    r += "Content-Length: " + std::to_string(body.size()) + "\r\nCache-Control: no-store\r\n";
    r += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
    r += extra_headers;
    r += "\r\n";
    r += body;
    return r;
}

bool origin_allowed(std::span<const std::string> allowed, std::string_view origin) {
    return origin.empty() || allowed.empty() || std::find(allowed.begin(), allowed.end(), origin) != allowed.end();
}

std::string cors_headers(std::string_view origin) {
    if (origin.empty()) return {};
    std::string h = "Access-Control-Allow-Origin: ";
    h += origin;
    h += "\r\nAccess-Control-Allow-Credentials: true\r\nVary: Origin\r\n";
    return h;
}

}  // namespace tickgate::protocol
