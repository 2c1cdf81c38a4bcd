#include "feeds/runtime/tcp.hpp"

#include <boost/asio/io_context.hpp>

namespace tickgate::runtime {
namespace asio = boost::asio;
using asio::ip::tcp;

std::optional<tcp::endpoint> resolve(const Endpoint& e, std::string& error) {
    asio::io_context io;
    tcp::resolver resolver(io);
    boost::system::error_code ec;
    auto results = resolver.resolve(e.host, std::to_string(e.port), tcp::resolver::numeric_service, ec);
    if (ec || results.empty()) {
        error = "cannot resolve " + e.host + ": " + (ec ? ec.message() : "no address");
        return std::nullopt;
    }
    return results.begin()->endpoint();
}

bool open_acceptor(tcp::acceptor& acceptor, const tcp::endpoint& endpoint, const char* what, std::string& error) {
    boost::system::error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        error = std::string("cannot listen") + what + " on " + endpoint.address().to_string() + ":" +
                std::to_string(endpoint.port()) + ": " + ec.message();
        return false;
    }
    return true;
}

}  // namespace tickgate::runtime
