#pragma once
// Pages the gateway serves itself, compiled into the binary from gateway/static/ (see CMakeLists.txt),
// so a fresh install shows live prices in a browser without any other server or download.

#include <string_view>

namespace tickgate::gateway {

/// GET /: the live ticker page (protocol v1 over the same origin).
std::string_view index_html() noexcept;

}  // namespace tickgate::gateway
