#include "feeds/publisher/publisher.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <nats/nats.h>

#include <array>
#include <ctime>
#include <sstream>
#include <thread>
#include <vector>

#include "feeds/feed_log.hpp"
#include "feeds/nats_bus.hpp"
#include "feeds/update_channel.hpp"
#include "gateway/log.hpp"
#include "gateway/metrics_server.hpp"
#include "protocol/bus_update.hpp"

namespace tickgate::publisher {
namespace asio = boost::asio;

namespace {

// The same ring size as the gateway's: a burst of tens of ms at millions of updates/s.
constexpr std::size_t kRingCapacity = 1 << 16;
constexpr std::size_t kBatchMax = 256;
// NATS errors are logged up to this many times, then only counted.
constexpr std::uint64_t kLoggedErrors = 10;
// How long reading the stream's latest values (to restore seqs) may take at start.
constexpr auto kRestoreBudget = std::chrono::seconds(30);

std::int64_t realtime_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void log_feed_line(feeds::FeedLogLevel level, const char* line) {
    switch (level) {
    case feeds::FeedLogLevel::debug: TG_LOG(debug, "%s", line); break;
    case feeds::FeedLogLevel::info: TG_LOG(info, "%s", line); break;
    case feeds::FeedLogLevel::warn: TG_LOG(warn, "%s", line); break;
    case feeds::FeedLogLevel::error: TG_LOG(error, "%s", line); break;
    }
}

void metric(std::ostringstream& out, const char* name, const char* type, const char* help, double value) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n' << name << ' ' << value << '\n';
}

}  // namespace

struct Publisher::Parts {
    feeds::UpdateChannel channel{kRingCapacity};
    std::vector<std::unique_ptr<feeds::FeedAdapter>> adapters;
    std::vector<std::jthread> feed_threads;
    std::unique_ptr<gateway::MetricsServer> metrics;
    std::jthread publisher;
};

Publisher::Publisher(PublisherConfig config)
    : config_(std::move(config)),
      stream_(feeds::stream_name_for_prefix(config_.subject_prefix)),
      parts_(std::make_unique<Parts>()) {}

Publisher::~Publisher() = default;

std::string Publisher::scrape() const {
    // Four series, written directly: a registry would only add a copy of these numbers.
    std::ostringstream out;
    out.precision(17);
    metric(out, "tickgate_feed_published_total", "counter", "Updates handed to NATS",
           static_cast<double>(published_.load(std::memory_order_relaxed)));
    metric(out, "tickgate_feed_nats_errors_total", "counter", "NATS publish or JetStream failures",
           static_cast<double>(nats_errors_.load(std::memory_order_relaxed)));
    metric(out, "tickgate_feed_reconnects_total", "counter", "Reconnections to NATS after a disconnect",
           static_cast<double>(link_ ? link_->reconnects() : 0));
    metric(out, "tickgate_feed_nats_connected", "gauge", "1 while connected to NATS",
           link_ && link_->connected() ? 1 : 0);
    metric(out, "tickgate_feed_topics", "gauge", "Topics published so far (or restored from JetStream)",
           static_cast<double>(topic_count_.load(std::memory_order_relaxed)));
    return out.str();
}

bool Publisher::start(std::string& error) {
    for (std::size_t i = 0; i < config_.feeds.size(); ++i) {
        auto adapter = feeds::make_feed(config_.feeds[i], config_.sim, static_cast<std::uint16_t>(i), error);
        if (!adapter) {
            start_exit_code_ = error.rfind("cannot read", 0) == 0 ? 1 : 2;
            error = "--feed " + config_.feeds[i] + ": " + error;
            return false;
        }
        parts_->adapters.push_back(std::move(adapter));
    }
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    boost::system::error_code ec;
    const auto at = resolver.resolve(config_.metrics_listen.host, std::to_string(config_.metrics_listen.port),
                                     asio::ip::tcp::resolver::numeric_service, ec);
    if (ec || at.empty()) {
        error = "cannot resolve " + config_.metrics_listen.host + ": " + (ec ? ec.message() : "no address");
        return false;
    }
    parts_->metrics = std::make_unique<gateway::MetricsServer>([this] { return scrape(); });
    if (!parts_->metrics->open(at.begin()->endpoint(), error)) return false;

    feeds::NatsLink::Events events;
    events.up = [this] { reattach_.store(true, std::memory_order_release); };
    link_ = feeds::NatsLink::open(config_.nats_urls, "tickgate-feed", std::move(events), error);
    if (!link_) return false;
    parts_->metrics->start();
    const auto m = parts_->metrics->local_endpoint();
    TG_LOG(info, "tickgate-feed %s: feeds: %zu, publishing to %s.<channel>.<symbol> on %s", TICKGATE_VERSION,
           parts_->adapters.size(), config_.subject_prefix.c_str(), config_.nats.c_str());
    TG_LOG(info, "metrics on http://%s:%u/metrics", m.address().to_string().c_str(), static_cast<unsigned>(m.port()));
    return true;
}

bool Publisher::attach(const std::stop_token& stop, std::string& error) {
    bool waiting_logged = false;
    while (!link_->connected()) {
        if (stop.stop_requested()) return false;
        if (!waiting_logged) TG_LOG(info, "waiting for NATS before publishing (seq continues from JetStream)");
        waiting_logged = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    reattach_.store(false, std::memory_order_relaxed);
    bool created = false;
    if (!feeds::ensure_last_value_stream(link_->get(), stream_, config_.subject_prefix, created, error)) return false;
    if (created) {
        TG_LOG(info, "created JetStream stream %s over %s.> (last message per subject)", stream_.c_str(),
               config_.subject_prefix.c_str());
        return true;
    }
    // Seq continues from the stream: one ephemeral consumer delivering the last message of every
    // subject, rather than a js_GetLastMsg request per topic (one round trip per topic).
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t count = 0, restored = 0;
    const auto result = feeds::read_last_values(
        link_->get(), config_.subject_prefix + ".>", kRestoreBudget,
        [&](std::string_view subject, std::string_view data) {
            const std::string_view topic = protocol::topic_from_subject(subject);
            protocol::TickerUpdate u;
            if (topic.empty() || subject.size() != config_.subject_prefix.size() + 1 + topic.size() ||
                protocol::decode_bus_update(data, u) != protocol::BusDecodeError::none)
                return;  // not one of ours: nothing to continue from
            TopicState& t = topic_state(topic);
            if (u.seq > t.seq) t.seq = u.seq;
            ++restored;
        },
        count, error);
    if (result == feeds::LastValuesResult::failed) return false;
    const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    TG_LOG(info, "stream %s: seq continues for %zu topics (read in %.1f ms)", stream_.c_str(), restored, ms);
    return true;
}

Publisher::TopicState& Publisher::topic_state(std::string_view topic) {
    auto it = topics_.find(topic);
    if (it == topics_.end()) {
        it = topics_.emplace(std::string(topic), TopicState{config_.subject_prefix + "." + std::string(topic), 0}).first;
        topic_count_.store(topics_.size(), std::memory_order_relaxed);
    }
    return it->second;
}

void Publisher::publish_loop(const std::stop_token& stop) {
    std::array<protocol::TickerUpdate, kBatchMax> batch;
    std::array<std::byte, protocol::kBusUpdateSize> record;
    while (!stop.stop_requested()) {
        if (reattach_.exchange(false, std::memory_order_acq_rel)) {
            // After a reconnect: a server restarted without its store has lost the stream.
            std::string error;
            bool created = false;
            if (!feeds::ensure_last_value_stream(link_->get(), stream_, config_.subject_prefix, created, error)) {
                nats_errors_.fetch_add(1, std::memory_order_relaxed);
                TG_LOG(warn, "%s", error.c_str());
            } else if (created) {
                TG_LOG(warn, "stream %s was missing after reconnecting; created it again", stream_.c_str());
            }
        }
        const std::size_t n = parts_->channel.consume(batch, std::chrono::milliseconds(50));
        for (std::size_t i = 0; i < n; ++i) {
            protocol::TickerUpdate& u = batch[i];
            TopicState& t = topic_state(u.topic());
            // The seq is taken even if the publish fails: a lost update is a gap, never a reuse.
            u.seq = ++t.seq;
            u.ts_ns = realtime_ns();
            protocol::encode_bus_update(u, record.data());
            // While reconnecting the library buffers (8 MiB); past that the publish fails.
            const natsStatus s = natsConnection_Publish(link_->get(), t.subject.c_str(), record.data(),
                                                        static_cast<int>(record.size()));
            if (s == NATS_OK) {
                published_.fetch_add(1, std::memory_order_relaxed);
            } else if (nats_errors_.fetch_add(1, std::memory_order_relaxed) < kLoggedErrors) {
                TG_LOG(warn, "publish to %s failed: %s", t.subject.c_str(), natsStatus_GetText(s));
            }
        }
    }
}

int Publisher::run() {
    gateway::set_log_level(gateway::parse_log_level(config_.log_level));
    feeds::set_feed_log_sink(log_feed_line);
    std::string error;
    if (!start(error)) {
        std::fprintf(stderr, "tickgate-feed: %s\n", error.c_str());
        return start_exit_code_;
    }
    asio::io_context signals_io{1};
    asio::signal_set stop_signals(signals_io, SIGINT, SIGTERM);
    int exit_code = 0;
    stop_signals.async_wait([&](const boost::system::error_code& ec, int signal) {
        if (ec) return;
        TG_LOG(info, "received %s", signal == SIGINT ? "SIGINT" : "SIGTERM");
        signals_io.stop();
    });
    parts_->publisher = std::jthread([&](std::stop_token stop) {
        std::string attach_error;
        if (!attach(stop, attach_error)) {
            if (stop.stop_requested()) return;
            std::fprintf(stderr, "tickgate-feed: %s\n", attach_error.c_str());
            exit_code = 1;
            asio::post(signals_io, [&] { signals_io.stop(); });
            return;
        }
        for (auto& adapter : parts_->adapters)
            parts_->feed_threads.emplace_back([a = adapter.get(), ch = &parts_->channel](std::stop_token fs) {
                a->run(fs, *ch);
            });
        publish_loop(stop);
    });
    signals_io.run();

    parts_->publisher.request_stop();
    parts_->channel.wake_consumer();
    parts_->publisher.join();
    for (auto& t : parts_->feed_threads) t.request_stop();
    for (auto& t : parts_->feed_threads)
        if (t.joinable()) t.join();
    // What the library still buffers goes out now, if NATS is there to take it.
    if (link_->connected()) natsConnection_FlushTimeout(link_->get(), 1000);
    parts_->metrics->stop();
    link_.reset();
    TG_LOG(info, "stopped after publishing %llu updates",
           static_cast<unsigned long long>(published_.load(std::memory_order_relaxed)));
    return exit_code;
}

}  // namespace tickgate::publisher
