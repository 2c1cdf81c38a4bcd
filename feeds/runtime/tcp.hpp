#pragma once
// From an Endpoint to a listening socket: the two steps every listener of both programs takes
// (the gateway's WebSocket port, either program's /metrics).

#include <boost/asio/ip/tcp.hpp>

#include <optional>
#include <string>

#include "feeds/runtime/endpoint.hpp"

namespace tickgate::runtime {

/// The first address `e.host` resolves to, with `e.port`; nullopt with "cannot resolve HOST: why".
std::optional<boost::asio::ip::tcp::endpoint> resolve(const Endpoint& e, std::string& error);

/// Opens, binds and listens; on failure returns false with "cannot listen<what> on HOST:PORT: why".
bool open_acceptor(boost::asio::ip::tcp::acceptor& acceptor, const boost::asio::ip::tcp::endpoint& endpoint,
                   const char* what, std::string& error);

}  // namespace tickgate::runtime
