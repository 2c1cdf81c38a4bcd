#pragma once
// The one HTTP/1.1 response shape every plain-HTTP answer of the gateway uses (health, the live
// page, errors, Engine.IO long-polling): status line, our headers, a body with its length.
// Responses are never cached: every one of them describes the gateway's state right now.

#include <string>
#include <string_view>

namespace tickgate::protocol {

/// `content_type` empty: no Content-Type header (204, 413 without a body). `extra_headers` are
/// whole "Name: value\r\n" lines (CORS, Allow...).
std::string http_response(int status, std::string_view reason, std::string_view content_type, std::string_view body,
                          bool keep_alive, std::string_view extra_headers = {});

}  // namespace tickgate::protocol
