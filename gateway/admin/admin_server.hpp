#pragma once
// The operator API's transport: HTTP/1.1 on --admin-listen, over TLS with the gateway's
// certificate or plain on loopback (--admin-tls), on a thread of its own so an operator's call
// never runs on a worker. Each request goes whole to AdminApi::handle; its answer is logged (what
// it did, the caller's address, never the key) and written back. Beast is in admin_server.cpp only.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <string>
#include <thread>

namespace tickgate::gateway {
class TlsContextStore;
}

namespace tickgate::gateway::admin {

class AdminApi;

class AdminServer {
public:
    /// `tls` null: plain HTTP. Otherwise every connection takes the store's current context, so a
    /// certificate reloaded on SIGHUP serves the next connection.
    AdminServer(AdminApi& api, const TlsContextStore* tls);
    ~AdminServer();
    AdminServer(const AdminServer&) = delete;
    AdminServer& operator=(const AdminServer&) = delete;

    bool open(const boost::asio::ip::tcp::endpoint& endpoint, std::string& error);
    boost::asio::ip::tcp::endpoint local_endpoint() const;
    bool tls() const noexcept { return tls_ != nullptr; }
    void start();
    /// Stops serving and joins the thread (a call in progress finishes first: at most kWorkerWait).
    void stop();

private:
    void do_accept();

    AdminApi& api_;
    const TlsContextStore* tls_;
    boost::asio::io_context io_{1};
    boost::asio::ip::tcp::acceptor acceptor_;
    std::thread thread_;
};

}  // namespace tickgate::gateway::admin
