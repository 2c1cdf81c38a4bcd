#pragma once
// GET /metrics on --metrics-listen, on a thread of its own so a scrape never delays fan-out.
// Served with Beast from the registry's TextSerializer rather than prometheus-cpp's civetweb
// Exposer, whose ~1.8 s teardown would not fit the 2 s shutdown.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>
#include <string>
#include <thread>

#include "gateway/metrics.hpp"

namespace tickgate::gateway {

class MetricsServer {
public:
    explicit MetricsServer(Metrics& metrics);
    ~MetricsServer();
    bool open(const boost::asio::ip::tcp::endpoint& endpoint, std::string& error);
    boost::asio::ip::tcp::endpoint local_endpoint() const;
    void start();
    void stop();

private:
    void do_accept();

    Metrics& metrics_;
    boost::asio::io_context io_{1};
    boost::asio::ip::tcp::acceptor acceptor_;
    std::thread thread_;
};

}  // namespace tickgate::gateway
