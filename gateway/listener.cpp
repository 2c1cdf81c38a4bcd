#include "gateway/listener.hpp"

#include <boost/asio/post.hpp>

#include <chrono>

#include "gateway/admission.hpp"
#include "gateway/connection_context.hpp"
#include "gateway/fanout/worker.hpp"
#include "feeds/runtime/tcp.hpp"
#include "gateway/http/http_session.hpp"
#include "feeds/runtime/log.hpp"
#include "gateway/tls_context_store.hpp"

namespace tickgate::gateway {
namespace asio = boost::asio;
using asio::ip::tcp;

Listener::Listener(asio::io_context& io, ConnectionContext& context, const TlsContextStore& tls,
                   std::vector<Worker*> workers)
    : context_(context), tls_(tls), workers_(std::move(workers)), acceptor_(io), backoff_(io) {}

bool Listener::open(const tcp::endpoint& endpoint, std::string& error) {
    return runtime::open_acceptor(acceptor_, endpoint, "", error);
}

tcp::endpoint Listener::local_endpoint() const {
    boost::system::error_code ec;
    return acceptor_.local_endpoint(ec);
}

void Listener::start() { do_accept(); }

void Listener::stop() {
    asio::post(acceptor_.get_executor(), [this] {
        stopped_ = true;
        boost::system::error_code ec;
        backoff_.cancel();
        acceptor_.close(ec);
    });
}

void Listener::do_accept() {
    if (stopped_) return;
    Worker& worker = *workers_[next_worker_];
    next_worker_ = (next_worker_ + 1) % workers_.size();
    acceptor_.async_accept(worker.io(), [this, &worker](const boost::system::error_code& ec, tcp::socket socket) {
        on_accept(ec, std::move(socket), worker);
    });
}

void Listener::on_accept(const boost::system::error_code& ec, tcp::socket socket, Worker& worker) {
    if (stopped_ || ec == asio::error::operation_aborted) return;
    if (ec) {
        context_.admission.count_accept_error();
        // EMFILE/ENFILE/ENOBUFS: the connection stays in the backlog until descriptors free up.
        // Accepting again at once would spin; wait a little and retry.
        TG_LOG(warn, "accept failed: %s; retrying in 100 ms", ec.message().c_str());
        backoff_.expires_after(std::chrono::milliseconds(100));
        backoff_.async_wait([this](const boost::system::error_code& wait_ec) {
            if (!wait_ec) do_accept();
        });
        return;
    }
    boost::system::error_code addr_ec;
    const auto remote = socket.remote_endpoint(addr_ec);
    if (!addr_ec) {
        ConnectionSlot slot = context_.admission.slot_for(remote.address().to_string());
        auto tls = tls_.current();
        asio::post(worker.io(), [&worker, context = &context_, socket = std::move(socket), tls = std::move(tls),
                                 slot = std::move(slot)]() mutable {
            start_connection(worker, *context, std::move(socket), std::move(tls), std::move(slot));
        });
    }
    do_accept();
}

}  // namespace tickgate::gateway
