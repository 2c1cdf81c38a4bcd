#include "feeds/publisher/publisher.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <nats/nats.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <array>
#include <mutex>
#include <random>
#include <thread>

#include "feeds/feed_runner.hpp"
#include "feeds/nats_bus.hpp"
#include "feeds/runtime/clock.hpp"
#include "feeds/runtime/log.hpp"
#include "feeds/runtime/metrics_server.hpp"
#include "feeds/runtime/prometheus_fold.hpp"
#include "feeds/runtime/tcp.hpp"
#include "protocol/bus_update.hpp"

namespace tickgate::publisher {
namespace asio = boost::asio;
namespace pm = prometheus;

namespace {

// The same ring size as the gateway's: a burst of tens of ms at millions of updates/s.
constexpr std::size_t kRingCapacity = 1 << 16;
constexpr std::size_t kBatchMax = 256;
// NATS errors are logged up to this many times, then only counted.
constexpr std::uint64_t kLoggedErrors = 10;
// How long reading the stream's latest values (to restore seqs) may take at start.
constexpr auto kRestoreBudget = std::chrono::seconds(30);

pm::Counter& counter(pm::Registry& r, const char* name, const char* help) {
    return pm::BuildCounter().Name(name).Help(help).Register(r).Add({});
}
pm::Gauge& gauge(pm::Registry& r, const char* name, const char* help) {
    return pm::BuildGauge().Name(name).Help(help).Register(r).Add({});
}

// The publisher's /metrics: the names and help texts deploy/prometheus/rules.yml, the Grafana
// dashboard and the compose health check rely on.
struct Families {
    pm::Registry registry;
    pm::Counter& published = counter(registry, "tickgate_feed_published_total", "Updates handed to NATS");
    pm::Counter& nats_errors = counter(registry, "tickgate_feed_nats_errors_total", "NATS publish or JetStream failures");
    pm::Counter& reconnects =
        counter(registry, "tickgate_feed_reconnects_total", "Reconnections to NATS after a disconnect");
    pm::Gauge& connected = gauge(registry, "tickgate_feed_nats_connected", "1 while connected to NATS");
    pm::Gauge& topics = gauge(registry, "tickgate_feed_topics", "Topics published so far (or restored from JetStream)");
    pm::Gauge& bus_version = gauge(registry, "tickgate_feed_bus_version", "The bus encoding published (--bus-version)");
};

std::uint64_t random_epoch() {
    std::random_device rd;
    std::uint64_t e = 0;
    // 0 is what a v1 message reads as: never an epoch of its own.
    for (int i = 0; i < 4 && e == 0; ++i) e = (static_cast<std::uint64_t>(rd()) << 32) | rd();
    return e ? e : 1;
}

}  // namespace

struct Publisher::Parts {
    feeds::FeedRunner feeds{kRingCapacity};
    std::mutex scrape_mutex;
    Families families;
    std::unique_ptr<runtime::MetricsServer> metrics;
    std::jthread publisher;
};

Publisher::Publisher(PublisherConfig config)
    : config_(std::move(config)),
      stream_(feeds::stream_name_for_prefix(config_.subject_prefix)),
      epoch_(random_epoch()),
      parts_(std::make_unique<Parts>()) {}

Publisher::~Publisher() = default;

std::string Publisher::scrape() {
    std::lock_guard lock(parts_->scrape_mutex);
    Families& f = parts_->families;
    runtime::set_total(f.published, static_cast<double>(published_.get()));
    runtime::set_total(f.nats_errors, static_cast<double>(nats_errors_.get()));
    runtime::set_total(f.reconnects, static_cast<double>(link_ ? link_->reconnects() : 0));
    f.connected.Set(link_ && link_->connected() ? 1 : 0);
    f.topics.Set(static_cast<double>(topic_count_.get()));
    f.bus_version.Set(static_cast<double>(config_.bus_version));
    return runtime::text_exposition(f.registry);
}

bool Publisher::start(std::string& error) {
    // Local feeds only (validated with the flags), so the NATS options are never read.
    if (!parts_->feeds.create(config_.feeds, config_.sim, feeds::NatsOptions{}, error, start_exit_code_)) return false;
    const auto at = runtime::resolve(config_.metrics_listen, error);
    if (!at) return false;
    parts_->metrics = std::make_unique<runtime::MetricsServer>([this] { return scrape(); });
    if (!parts_->metrics->open(*at, error)) return false;

    feeds::NatsLink::Events events;
    events.up = [this] { reattach_.store(true, std::memory_order_release); };
    link_ = feeds::NatsLink::open(config_.nats_urls, "tickgate-feed", std::move(events), error);
    if (!link_) return false;
    parts_->metrics->start();
    const auto m = parts_->metrics->local_endpoint();
    TG_LOG(info, "tickgate-feed %s: feeds: %zu, publishing to %s.<channel>.<symbol> on %s", TICKGATE_VERSION,
           parts_->feeds.adapters().size(), config_.subject_prefix.c_str(), config_.nats.c_str());
    TG_LOG(info, "bus version %u, epoch %016llx", config_.bus_version, static_cast<unsigned long long>(epoch_));
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
            protocol::BusMessage m;
            // Either version: the stream may hold what an earlier run published in the other one.
            if (topic.empty() || subject.size() != config_.subject_prefix.size() + 1 + topic.size() ||
                protocol::parse_bus_message(data, m) != protocol::BusDecodeError::none || m.tickers == 0)
                return;  // not one of ours: nothing to continue from
            TopicState& t = topic_state(topic);
            protocol::for_each_ticker(m, [&](const protocol::MarketUpdate& u) {
                if (u.seq > t.seq) t.seq = u.seq;
            });
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
        topic_count_.add(1);
    }
    return it->second;
}

void Publisher::publish_loop(const std::stop_token& stop) {
    std::array<protocol::MarketUpdate, kBatchMax> batch;
    std::array<std::byte, std::max(protocol::kBusUpdateSize, protocol::kBusV2TickerSize)> record;
    const bool v2 = config_.bus_version == 2;
    const int record_size = static_cast<int>(v2 ? protocol::kBusV2TickerSize : protocol::kBusUpdateSize);
    while (!stop.stop_requested()) {
        if (reattach_.exchange(false, std::memory_order_acq_rel)) {
            // After a reconnect: a server restarted without its store has lost the stream.
            std::string error;
            bool created = false;
            if (!feeds::ensure_last_value_stream(link_->get(), stream_, config_.subject_prefix, created, error)) {
                nats_errors_.add();
                TG_LOG(warn, "%s", error.c_str());
            } else if (created) {
                TG_LOG(warn, "stream %s was missing after reconnecting; created it again", stream_.c_str());
            }
        }
        const std::size_t n = parts_->feeds.channel().consume(batch, std::chrono::milliseconds(50));
        for (std::size_t i = 0; i < n; ++i) {
            protocol::MarketUpdate& u = batch[i];
            // The bus carries tickers only (books and trades across it are the next step); its
            // feeds publish none of the other kinds, and any that did would be skipped here.
            if (u.kind != protocol::UpdateKind::ticker) continue;
            TopicState& t = topic_state(u.topic());
            // The seq is taken even if the publish fails: a lost update is a gap, never a reuse.
            u.seq = ++t.seq;
            u.ts_ns = runtime::realtime_ns();
            if (v2)
                protocol::encode_bus_v2_ticker(u, epoch_, record.data());
            else
                protocol::encode_bus_update(u, record.data());
            // While reconnecting the library buffers (8 MiB); past that the publish fails.
            const natsStatus s = natsConnection_Publish(link_->get(), t.subject.c_str(), record.data(),
                                                        record_size);
            if (s == NATS_OK) {
                published_.add();
            } else {
                nats_errors_.add();
                if (nats_errors_.get() <= kLoggedErrors)
                    TG_LOG(warn, "publish to %s failed: %s", t.subject.c_str(), natsStatus_GetText(s));
            }
        }
    }
}

int Publisher::run() {
    runtime::set_log_level(runtime::parse_log_level(config_.log_level));
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
        parts_->feeds.start();
        publish_loop(stop);
    });
    signals_io.run();

    parts_->publisher.request_stop();
    parts_->feeds.channel().wake_consumer();
    parts_->publisher.join();
    parts_->feeds.request_stop();
    parts_->feeds.join();
    // What the library still buffers goes out now, if NATS is there to take it.
    if (link_->connected()) natsConnection_FlushTimeout(link_->get(), 1000);
    parts_->metrics->stop();
    link_.reset();
    TG_LOG(info, "stopped after publishing %llu updates",
           static_cast<unsigned long long>(published_.get()));
    return exit_code;
}

}  // namespace tickgate::publisher
