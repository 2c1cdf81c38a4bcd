#include "gateway/server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>

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
#include "gateway/admin/admin_api.hpp"
#include "gateway/admin/admin_key.hpp"
#include "gateway/admin/admin_server.hpp"
#include "gateway/fanout/announcements.hpp"
#include "gateway/fanout/broadcast_engine.hpp"
#include "gateway/fanout/newest_seq.hpp"
#include "gateway/fanout/topic_history.hpp"
#include "gateway/session/recovery_store.hpp"
#include "gateway/fanout/worker.hpp"
#include "gateway/listener.hpp"
#include "gateway/metrics.hpp"
#include "gateway/uring_writer.hpp"

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

struct Server::Feeds {
    feeds::FeedRunner runner{kRingCapacity};
};

Server::Server(Config config)
    : config_(std::move(config)),
      admission_(config_.max_connections, config_.max_connections_per_ip),
      feeds_(std::make_unique<Feeds>()) {}

Server::~Server() = default;

const feeds::UpdateChannel& Server::channel() const noexcept { return feeds_->runner.channel(); }

std::vector<const feeds::FeedAdapter*> Server::feed_adapters() const {
    std::vector<const feeds::FeedAdapter*> out;
    for (const auto& a : feeds_->runner.adapters()) out.push_back(a.get());
    return out;
}

bool Server::start(std::string& error) {
    if (config_.admin_listen) {
        admin_key_ = std::make_unique<admin::AdminKey>(config_.admin_key_file);
        if (!admin_key_->load(error)) {
            start_exit_code_ = 2;  // a configuration error, like a bad flag
            return false;
        }
    }
    if (!tls_.load(error)) return false;
    if (!access_.load(error)) return false;

    feeds::NatsOptions nats = config_.nats;
    nats.max_topics = config_.max_topics;
    nats.history = config_.history;
    if (!feeds_->runner.create(config_.feeds, config_.sim, nats, error, start_exit_code_)) return false;
    std::vector<std::string> feed_names;
    std::vector<const feeds::UpstreamStats*> upstreams;
    for (const auto& adapter : feeds_->runner.adapters()) {
        feed_names.push_back(adapter->name());
        upstreams.push_back(adapter->upstream_stats());
    }

    // Rooms take topic ids too, beyond the market topics' (--max-publish-topics of them).
    newest_ = std::make_unique<NewestSeqTable>(std::size_t{config_.max_topics} + config_.max_publish_topics);
    const unsigned threads = config_.threads ? config_.threads : std::max(1u, std::thread::hardware_concurrency());
    if (config_.history > 0)
        history_ = std::make_unique<TopicHistory>(HistoryLimits{config_.history, config_.history_bytes,
                                                                static_cast<std::int64_t>(config_.history_ms)});
    if (history_ && config_.socketio_recovery_ms > 0)
        // As many kept sessions as connections: each connection leaves at most one behind.
        recovery_ = std::make_unique<RecoveryStore>(config_.socketio_recovery_ms, std::size_t{config_.max_connections});
    std::vector<Worker*> worker_ptrs;
    for (unsigned i = 0; i < threads; ++i) {
        workers_.push_back(std::make_unique<Worker>(i, config_, newest_.get()));
        workers_.back()->set_history(history_.get());
        workers_.back()->set_recovery_store(recovery_.get());
        worker_ptrs.push_back(workers_.back().get());
    }
    if (!choose_io_backend(error)) return false;
    engine_ = std::make_unique<BroadcastEngine>(config_, feeds_->runner.channel(), feed_names, worker_ptrs, *newest_,
                                                std::move(upstreams));
    engine_->set_history(history_.get());
    health_.watch_feeds(*engine_);
    wire_message_bus();
    connections_.engine = engine_.get();

    const auto listen = runtime::resolve(config_.listen, error);
    if (!listen) return false;
    listener_ = std::make_unique<Listener>(workers_.front()->io(), connections_, tls_, worker_ptrs);
    if (!listener_->open(*listen, error)) return false;
    const auto metrics_at = runtime::resolve(config_.metrics_listen, error);
    if (!metrics_at) return false;
    metrics_model_ = std::make_unique<Metrics>(*this);
    metrics_ = std::make_unique<runtime::MetricsServer>([m = metrics_model_.get()] { return m->scrape(); });
    if (!metrics_->open(*metrics_at, error)) return false;
    if (!open_admin(worker_ptrs, error)) return false;

    // A NATS feed with --nats-reader worker reads on worker 0's loop, beside the engine.
    for (const auto& adapter : feeds_->runner.adapters()) adapter->offer_event_loop(workers_.front()->io());
    for (auto& w : workers_) w->start();
    engine_->start();
    feeds_->runner.start();
    listener_->start();
    metrics_->start();
    if (admin_) admin_->start();
    health_.set(Health::Readiness::ready);

    const auto ws = listener_->local_endpoint();
    const auto m = metrics_->local_endpoint();
    const std::string scheme = config_.no_tls ? "ws" : "wss";
    const std::string url = scheme + "://" + host_for_url(ws) + ":" + std::to_string(ws.port()) + "/ws";
    TG_LOG(info, "tickgate %s: %u I/O threads, feeds: %zu", TICKGATE_VERSION, threads, feed_names.size());
    TG_LOG(info, "listening on %s", url.c_str());
    TG_LOG(info, "metrics on http://%s:%u/metrics", host_for_url(m).c_str(), static_cast<unsigned>(m.port()));
    if (admin_) {
        const auto a = admin_->local_endpoint();
        TG_LOG(info, "admin API on %s://%s:%u/api/", admin_->tls() ? "https" : "http", host_for_url(a).c_str(),
               static_cast<unsigned>(a.port()));
    }
    TG_LOG(info, "live page: %s://%s:%u/ (self-signed certificate: accept it once in the browser)",
           config_.no_tls ? "http" : "https", host_for_url(ws).c_str(), static_cast<unsigned>(ws.port()));
    TG_LOG(info, "try: npx wscat%s -c '%s?subscribe=ticker.BTC-USD'", config_.no_tls ? "" : " --no-check", url.c_str());
    if (!config_.publish_channels.empty()) {
        std::string channels;
        for (const auto& c : config_.publish_channels) channels += (channels.empty() ? "" : ", ") + c;
        TG_LOG(info, "publishing on: %s (rooms such as %s.lobby; --publish-channels)", channels.c_str(),
               config_.publish_channels.front().c_str());
    }
    return true;
}

void Server::wire_message_bus() {
    // A feed linking gateways (NATS) sequences client publishes for all of them: the first one's
    // bus does; without one the engine sequences them itself.
    for (const auto& adapter : feeds_->runner.adapters()) {
        feeds::MessageBus* bus = adapter->message_bus();
        if (!bus) continue;
        engine_->set_message_bus(bus);
        bus->set_message_sink([engine = engine_.get()](protocol::PublishedMessage m) {
            engine->deliver_published(std::move(m));
        });
        // Another gateway's operator announced: this gateway's clients get it too. The sending
        // gateway checked the event name; deliver_announcement never waits for a worker, so the
        // bus may call it from worker 0's loop.
        std::vector<Worker*> workers;
        for (auto& w : workers_) workers.push_back(w.get());
        bus->set_announcement_sink([workers = std::move(workers)](protocol::Announcement a) {
            deliver_announcement(workers, std::move(a));
        });
        bus_ = bus;
        if (!config_.publish_channels.empty())
            TG_LOG(info, "publishing: messages are sequenced by the publisher on feed %s", adapter->name().c_str());
        return;
    }
}

bool Server::open_admin(const std::vector<Worker*>& workers, std::string& error) {
    if (!config_.admin_listen) return true;
    const auto at = runtime::resolve(*config_.admin_listen, error);
    if (!at) return false;
    using AdminTls = Config::AdminTls;
    const bool tls = config_.admin_tls == AdminTls::on || (config_.admin_tls == AdminTls::auto_ && !at->address().is_loopback());
    if (tls && config_.no_tls) {
        error = "--admin-listen " + at->address().to_string() +
                " is not a loopback address, so the admin API needs TLS, and --no-tls loads no certificate "
                "(behind a TLS terminator: --admin-tls off)";
        start_exit_code_ = 2;
        return false;
    }
    admin_api_ = std::make_unique<admin::AdminApi>(*admin_key_, workers, config_, engine_.get(), bus_);
    admin_ = std::make_unique<admin::AdminServer>(*admin_api_, tls ? &tls_ : nullptr);
    return admin_->open(*at, error);
}

bool Server::choose_io_backend(std::string& error) {
    using Backend = Config::IoBackend;
    if (config_.io_backend == Backend::epoll) {
        TG_LOG(info, "io backend: epoll (--io-backend epoll)");
        return true;
    }
    // Each worker's ring registers one file slot per connection it may hold. The table may not be
    // larger than the open-file limit (run() has raised it to the hard limit).
    rlimit lim{};
    const auto fd_limit = getrlimit(RLIMIT_NOFILE, &lim) == 0 ? lim.rlim_cur : 1024;
    const unsigned max_files = static_cast<unsigned>(std::min<rlim_t>(config_.max_connections + 64u, fd_limit));
    std::string why = io_uring_unavailable_reason();
    for (auto& w : workers_) {
        if (!why.empty()) break;
        w->use_uring(max_files, why);
    }
    if (why.empty()) {
        uring_ = true;
        TG_LOG(info, "io backend: uring (a loop pass's writes in io_uring submissions of up to 32)");
        return true;
    }
    if (config_.io_backend == Backend::uring) {
        error = "--io-backend uring: " + why;
        return false;
    }
    // auto: every worker on one backend, so that /metrics can name it.
    for (auto& w : workers_) w->drop_uring();
    TG_LOG(warn, "io backend: epoll (io_uring unavailable: %s)", why.c_str());
    return true;
}

void Server::shutdown() {
    health_.set(Health::Readiness::draining);
    TG_LOG(info, "shutting down: closing connections with 1001 going away");
    if (admin_) admin_->stop();
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
            reloads_.count(Reloadable::certificate, tls_.reload());
            reloads_.count(Reloadable::jwt_keys, access_.reload());
            if (admin_key_) reloads_.count(Reloadable::admin_key, admin_key_->reload());
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
