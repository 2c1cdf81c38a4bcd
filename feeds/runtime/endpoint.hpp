#pragma once
// HOST:PORT as both programs take it on the command line (--listen, --metrics-listen). Plain data;
// tcp.hpp resolves it, so code that only holds an Endpoint never includes Asio.

#include <cstdint>
#include <optional>
#include <string>

namespace tickgate::runtime {

struct Endpoint {
    std::string host;
    std::uint16_t port = 0;  // 0: the kernel picks a free port
};

/// Parses "HOST:PORT" ("[::1]:8443" for IPv6). Returns nullopt when malformed.
std::optional<Endpoint> parse_endpoint(const std::string& text);

}  // namespace tickgate::runtime
