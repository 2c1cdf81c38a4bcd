#pragma once
// The one HTTP/1.1 response shape every plain-HTTP answer of the gateway uses (health, the live
// page, errors, Engine.IO long-polling): status line, our headers, a body with its length.
// Responses are never cached: every one of them describes the gateway's state right now.

#include <span>
#include <string>
#include <string_view>

namespace tickgate::protocol {

/// `content_type` empty: no Content-Type header (204, 413 without a body). `extra_headers` are
/// whole "Name: value\r\n" lines (CORS, Allow...).
std::string http_response(int status, std::string_view reason, std::string_view content_type, std::string_view body,
                          bool keep_alive, std::string_view extra_headers = {});

/// --allowed-origins: a request without an Origin (not a browser) or with no list configured is
/// allowed; otherwise the Origin must be listed exactly.
bool origin_allowed(std::span<const std::string> allowed, std::string_view origin);

/// The headers a browser needs to read a cross-origin response; empty for a request without an
/// Origin. The origin is echoed rather than "*", because socket.io-client sends credentials
/// (withCredentials) when asked to. Only for allowed origins.
std::string cors_headers(std::string_view origin);

}  // namespace tickgate::protocol
