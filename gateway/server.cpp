#include "gateway/server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "feeds/feed_adapter.hpp"
#include "feeds/feed_runner.hpp"
#include "feeds/runtime/log.hpp"
#include "feeds/runtime/metrics_server.hpp"
#include "feeds/runtime/tcp.hpp"
#include "feeds/update_channel.hpp"
#include "gateway/broadcast_engine.hpp"
#include "gateway/listener.hpp"
#include "gateway/metrics.hpp"
#include "gateway/newest_seq.hpp"
#include "gateway/tls.hpp"
#include "gateway/worker.hpp"

namespace tickgate::gateway {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
// Ring slots: ~65k updates (8 MiB) absorbs a burst of tens of milliseconds at millions of updates/s.
constexpr std::size_t kRingCapacity = 1 << 16;
// SIGTERM must end the process within 2 s; clients get this long to take their close frame.
constexpr auto kDrainBudget = std::chrono::milliseconds(1200);

std::string host_for_url(const tcp::endpoint& e) {
    const auto a = e.address();
    if (!a.is_v6()) return a.to_string();
    std::string bracketed(1, '[');
    bracketed += a.to_string();
    bracketed += ']';
    return bracketed;
}
}  // namespace

const char* connection_result_name(ConnectionResult r) noexcept {
    switch (r) {
    case ConnectionResult::websocket: return "websocket";
    case ConnectionResult::http: return "http";
    case ConnectionResult::rejected_limit: return "rejected_limit";
    case ConnectionResult::rejected_origin: return "rejected_origin";
    case ConnectionResult::bad_handshake: return "bad_handshake";
    case ConnectionResult::tls_error: return "tls_error";
    case ConnectionResult::timeout: return "timeout";
    case ConnectionResult::count: break;
    }
    return "unknown";
}

struct Server::Feeds {
    feeds::FeedRunner runner{kRingCapacity};
};

Server::Server(Config config)
    : config_(std::move(config)),
      limits_(config_.max_connections, config_.max_connections_per_ip),
      feeds_(std::make_unique<Feeds>()) {}

Server::~Server() = default;

const feeds::UpdateChannel& Server::channel() const noexcept { return feeds_->runner.channel(); }

std::vector<const feeds::FeedAdapter*> Server::feed_adapters() const {
    std::vector<const feeds::FeedAdapter*> out;
    for (const auto& a : feeds_->runner.adapters()) out.push_back(a.get());
    return out;
}

std::shared_ptr<asio::ssl::context> Server::tls_context() const {
    std::lock_guard lock(tls_mutex_);
    return tls_;
}

bool Server::load_tls(std::string& error) {
    if (config_.no_tls) return true;
    if (config_.cert_file.empty()) {
        if (!ensure_self_signed_certificate(config_.state_dir, cert_path_, key_path_, error)) return false;
        TG_LOG(info, "using self-signed certificate %s", cert_path_.c_str());
    } else {
        cert_path_ = config_.cert_file;
        key_path_ = config_.key_file;
    }
    auto ctx = make_tls_context(cert_path_, key_path_, error);
    if (!ctx) return false;
    std::lock_guard lock(tls_mutex_);
    tls_ = std::move(ctx);
    return true;
}

void Server::reload_tls() {
    if (config_.no_tls) return;
    std::string error;
    // A generated certificate is regenerated here when it has expired.
    if (config_.cert_file.empty() &&
        !ensure_self_signed_certificate(config_.state_dir, cert_path_, key_path_, error)) {
        TG_LOG(error, "SIGHUP: %s; keeping the current certificate", error.c_str());
        return;
    }
    auto ctx = make_tls_context(cert_path_, key_path_, error);
    if (!ctx) {
        TG_LOG(error, "SIGHUP: %s; keeping the current certificate", error.c_str());
        return;
    }
    {
        std::lock_guard lock(tls_mutex_);
        tls_ = std::move(ctx);
    }
    TG_LOG(info, "SIGHUP: reloaded certificate %s and key %s; open connections keep theirs", cert_path_.c_str(),
           key_path_.c_str());
}

std::pair<int, std::string> Server::health_report() const {
    bool all_fresh = true;
    std::string feeds;
    for (const auto& f : engine_->feed_health()) {
        all_fresh = all_fresh && f.fresh;
        if (!feeds.empty()) feeds += ',';
        std::string name;
        for (char c : f.name) {
            if (c == '"' || c == '\\') name += '\\';
            if (static_cast<unsigned char>(c) >= 0x20) name += c;
        }
        feeds += "{\"name\":\"" + name + "\",\"state\":\"" + (f.fresh ? "ok" : "stale") +
                 "\",\"age_ms\":" + std::to_string(f.age_ms) + "}";
    }
    return {all_fresh ? 200 : 503,
            std::string("{\"status\":\"") + (all_fresh ? "ok" : "stale") + "\",\"feeds\":[" + feeds + "]}\n"};
}

bool Server::start(std::string& error) {
    if (!load_tls(error)) return false;

    feeds::NatsOptions nats = config_.nats;
    nats.max_topics = config_.max_topics;
    if (!feeds_->runner.create(config_.feeds, config_.sim, nats, error, start_exit_code_)) return false;
    std::vector<std::string> feed_names;
    for (const auto& adapter : feeds_->runner.adapters()) feed_names.push_back(adapter->name());

    newest_ = std::make_unique<NewestSeqTable>(config_.max_topics);
    const unsigned threads = config_.threads ? config_.threads : std::max(1u, std::thread::hardware_concurrency());
    std::vector<Worker*> worker_ptrs;
    for (unsigned i = 0; i < threads; ++i) {
        workers_.push_back(std::make_unique<Worker>(i, config_, newest_.get()));
        worker_ptrs.push_back(workers_.back().get());
    }
    engine_ = std::make_unique<BroadcastEngine>(config_, feeds_->runner.channel(), feed_names, worker_ptrs, *newest_);

    const auto listen = runtime::resolve(config_.listen, error);
    if (!listen) return false;
    listener_ = std::make_unique<Listener>(workers_.front()->io(), *this, worker_ptrs);
    if (!listener_->open(*listen, error)) return false;
    const auto metrics_at = runtime::resolve(config_.metrics_listen, error);
    if (!metrics_at) return false;
    metrics_model_ = std::make_unique<Metrics>(*this);
    metrics_ = std::make_unique<runtime::MetricsServer>([m = metrics_model_.get()] { return m->scrape(); });
    if (!metrics_->open(*metrics_at, error)) return false;

    for (auto& w : workers_) w->start();
    engine_->start();
    feeds_->runner.start();
    listener_->start();
    metrics_->start();
    ready_ = true;

    const auto ws = listener_->local_endpoint();
    const auto m = metrics_->local_endpoint();
    const std::string scheme = config_.no_tls ? "ws" : "wss";
    const std::string url = scheme + "://" + host_for_url(ws) + ":" + std::to_string(ws.port()) + "/ws";
    TG_LOG(info, "tickgate %s: %u I/O threads, feeds: %zu", TICKGATE_VERSION, threads, feed_names.size());
    TG_LOG(info, "listening on %s", url.c_str());
    TG_LOG(info, "metrics on http://%s:%u/metrics", host_for_url(m).c_str(), static_cast<unsigned>(m.port()));
    TG_LOG(info, "live page: %s://%s:%u/ (self-signed certificate: accept it once in the browser)",
           config_.no_tls ? "http" : "https", host_for_url(ws).c_str(), static_cast<unsigned>(ws.port()));
    TG_LOG(info, "try: npx wscat%s -c '%s?subscribe=ticker.BTC-USD'", config_.no_tls ? "" : " --no-check", url.c_str());
    return true;
}

void Server::shutdown() {
    draining_ = true;
    ready_ = false;
    TG_LOG(info, "shutting down: closing connections with 1001 going away");
    listener_->stop();
    for (auto& w : workers_) w->post_drain();
    const auto deadline = std::chrono::steady_clock::now() + kDrainBudget;
    auto open_sessions = [&] {
        std::size_t n = 0;
        for (auto& w : workers_) n += w->session_count();
        return n;
    };
    while (open_sessions() > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (const auto left = open_sessions()) TG_LOG(warn, "%zu connections did not finish closing in time", left);
    feeds_->runner.request_stop();
    engine_->stop();
    feeds_->runner.join();
    metrics_->stop();
    for (auto& w : workers_) w->stop();
    for (auto& w : workers_) w->join();
    TG_LOG(info, "stopped");
}

int Server::run() {
    runtime::set_log_level(runtime::parse_log_level(config_.log_level));
    // Each client is a descriptor: use all the hard limit allows (the soft limit is often 1024).
    if (rlimit lim{}; getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
    }
    // Signals are handled on this thread's own io_context; the rest of the gateway never blocks it.
    asio::io_context signals_io{1};
    asio::signal_set stop_signals(signals_io, SIGINT, SIGTERM);
    asio::signal_set reload_signal(signals_io, SIGHUP);

    std::string error;
    if (!start(error)) {
        std::fprintf(stderr, "tickgate: %s\n", error.c_str());
        feeds_->runner.request_stop();
        if (engine_) engine_->stop();
        for (auto& w : workers_) w->stop();
        return start_exit_code_;
    }
    std::function<void()> wait_reload = [&] {
        reload_signal.async_wait([&](const boost::system::error_code& ec, int) {
            if (ec) return;
            reload_tls();
            wait_reload();
        });
    };
    wait_reload();
    stop_signals.async_wait([&](const boost::system::error_code& ec, int signal) {
        if (ec) return;
        TG_LOG(info, "received %s", signal == SIGINT ? "SIGINT" : "SIGTERM");
        reload_signal.cancel();
        signals_io.stop();
    });
    signals_io.run();
    shutdown();
    return 0;
}

}  // namespace tickgate::gateway
