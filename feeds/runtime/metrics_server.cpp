#include "feeds/runtime/metrics_server.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include <optional>

#include "feeds/runtime/tcp.hpp"

namespace tickgate::runtime {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

class MetricsConnection : public std::enable_shared_from_this<MetricsConnection> {
public:
    MetricsConnection(tcp::socket socket, const MetricsServer::Scrape& scrape)
        : socket_(std::move(socket)), scrape_(scrape), timer_(socket_.get_executor()) {}

    void start() { do_read(); }

private:
    void do_read() {
        // An idle scraper connection is dropped after a while so it cannot pin a descriptor forever.
        timer_.expires_after(std::chrono::seconds(60));
        timer_.async_wait([weak = weak_from_this()](beast::error_code ec) {
            if (auto self = weak.lock(); self && !ec) self->socket_.close(ec);
        });
        parser_.emplace();
        parser_->header_limit(8 * 1024);
        parser_->body_limit(0);
        http::async_read(socket_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            self->on_read(ec);
        });
    }

    void on_read(beast::error_code ec) {
        timer_.cancel();
        if (ec) return close();
        const auto& req = parser_->get();
        const std::string_view target(req.target().data(), req.target().size());
        const bool keep_alive = req.keep_alive();
        std::string body;
        std::string status = "200 OK";
        std::string type = "text/plain; version=0.0.4; charset=utf-8";
        if (req.method() != http::verb::get) {
            status = "405 Method Not Allowed";
            type = "text/plain";
            body = "only GET\n";
        } else if (target == "/metrics" || target.rfind("/metrics?", 0) == 0) {
            body = scrape_();
        } else {
            status = "404 Not Found";
            type = "text/plain";
            body = "metrics are at /metrics\n";
        }
        out_ = "HTTP/1.1 " + status + "\r\nContent-Type: " + type + "\r\nContent-Length: " + std::to_string(body.size()) +
               (keep_alive ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\nConnection: close\r\n\r\n") + body;
        asio::async_write(socket_, asio::buffer(out_),
                          [self = shared_from_this(), keep_alive](beast::error_code wec, std::size_t) {
                              if (wec || !keep_alive) return self->close();
                              self->do_read();
                          });
    }

    void close() {
        beast::error_code ec;
        socket_.shutdown(tcp::socket::shutdown_both, ec);
        socket_.close(ec);
    }

    tcp::socket socket_;
    const MetricsServer::Scrape& scrape_;
    asio::steady_timer timer_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::empty_body>> parser_;
    std::string out_;
};

}  // namespace

MetricsServer::MetricsServer(Scrape scrape) : scrape_(std::move(scrape)), acceptor_(io_) {}

MetricsServer::~MetricsServer() { stop(); }

bool MetricsServer::open(const tcp::endpoint& endpoint, std::string& error) {
    return open_acceptor(acceptor_, endpoint, " for metrics", error);
}

tcp::endpoint MetricsServer::local_endpoint() const {
    beast::error_code ec;
    return acceptor_.local_endpoint(ec);
}

void MetricsServer::start() {
    do_accept();
    thread_ = std::thread([this] { io_.run(); });
}

void MetricsServer::stop() {
    if (!thread_.joinable()) return;
    io_.stop();
    thread_.join();
}

void MetricsServer::do_accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted) return;
        if (!ec) {
            std::make_shared<MetricsConnection>(std::move(socket), scrape_)->start();
            do_accept();
        } else {
            // Out of descriptors: retry shortly rather than spin.
            auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(100));
            timer->async_wait([this, timer](beast::error_code) { do_accept(); });
        }
    });
}

}  // namespace tickgate::runtime
