#pragma once
// GET /metrics on --metrics-listen, on a thread of its own so a scrape never delays fan-out.
// Served with Beast from the registry's TextSerializer rather than prometheus-cpp's civetweb
// Exposer, whose ~1.8 s teardown would not fit the 2 s shutdown.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace tickgate::runtime {

class MetricsServer {
public:
    /// scrape: returns the text exposition (text_exposition() of the program's registry, after
    /// folding its counters); called on the server's thread, one scrape at a time.
    using Scrape = std::function<std::string()>;
    explicit MetricsServer(Scrape scrape);
    ~MetricsServer();
    bool open(const boost::asio::ip::tcp::endpoint& endpoint, std::string& error);
    boost::asio::ip::tcp::endpoint local_endpoint() const;
    void start();
    void stop();

private:
    void do_accept();

    Scrape scrape_;
    boost::asio::io_context io_{1};
    boost::asio::ip::tcp::acceptor acceptor_;
    std::thread thread_;
};

}  // namespace tickgate::runtime
