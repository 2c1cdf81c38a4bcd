#pragma once
// Accepts TCP connections and deals them round-robin to the workers, each socket created directly
// on its worker's io_context. Survives running out of file descriptors: it backs off, logs,
// counts, and resumes.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <vector>

namespace tickgate::gateway {

class Worker;
class TlsContextStore;
struct ConnectionContext;

class Listener {
public:
    Listener(boost::asio::io_context& io, ConnectionContext& context, const TlsContextStore& tls,
             std::vector<Worker*> workers);
    /// Binds and listens; on failure returns false with a one-line error.
    bool open(const boost::asio::ip::tcp::endpoint& endpoint, std::string& error);
    boost::asio::ip::tcp::endpoint local_endpoint() const;
    void start();
    /// Stops accepting (posted to the listener's io_context).
    void stop();

private:
    void do_accept();
    void on_accept(const boost::system::error_code& ec, boost::asio::ip::tcp::socket socket, Worker& worker);

    ConnectionContext& context_;
    const TlsContextStore& tls_;
    std::vector<Worker*> workers_;
    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::steady_timer backoff_;
    std::size_t next_worker_ = 0;
    bool stopped_ = false;
};

}  // namespace tickgate::gateway
