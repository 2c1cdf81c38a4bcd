#include "feeds/publisher/publisher.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <nats/nats.h>
#include <pthread.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <array>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "feeds/feed_runner.hpp"
#include "feeds/nats_bus.hpp"
#include "feeds/nats_event_loop.hpp"
#include "feeds/pacing.hpp"
#include "feeds/runtime/clock.hpp"
#include "feeds/runtime/log.hpp"
#include "feeds/runtime/metrics_server.hpp"
#include "feeds/runtime/prometheus_fold.hpp"
#include "feeds/runtime/tcp.hpp"
#include "protocol/bus_publish.hpp"
#include "protocol/bus_update.hpp"
#include "protocol/model/order_book.hpp"
#include "protocol/topic.hpp"

namespace tickgate::publisher {
namespace asio = boost::asio;
namespace pm = prometheus;

namespace {

feeds::StreamSpec stream_spec_of(const PublisherConfig& c) {
    return {c.history, c.stream_storage == "memory" ? feeds::StreamStorage::memory : feeds::StreamStorage::file};
}

// The same ring size as the gateway's: a burst of tens of ms at millions of updates/s.
constexpr std::size_t kRingCapacity = 1 << 16;
constexpr std::size_t kBatchMax = 256;
// A failed check of the stream after a reconnect is tried again this often (each try may wait
// for JetStream up to its timeout, on the publish thread).
constexpr std::chrono::seconds kStreamRetry{2};
// NATS errors are logged up to this many times, then only counted.
constexpr std::uint64_t kLoggedErrors = 10;
// How long reading the stream's latest values (to restore seqs) may take at start.
constexpr auto kRestoreBudget = std::chrono::seconds(30);
// A live batch goes out early once it holds this much (NATS's default max payload is 1 MiB).
constexpr std::size_t kLiveBatchBytes = 60 << 10;
// An idle publisher sends an empty batch this often, so gateways reading the batches can tell a
// quiet market from a publisher gone (they go back to the per-topic subjects after 1 s without).
constexpr auto kLiveKeepalive = std::chrono::milliseconds(200);
// Every book's full state this often: what a gateway that joins late, or lost a delta, waits for
// at most before it serves that book (protocol/README.md, "Books on the bus").
constexpr auto kKeyframeInterval = std::chrono::seconds(1);
// Rooms the publisher sequences: each gateway bounds its own (--max-publish-topics), this bounds
// the publisher's memory and the stream's subjects against gateways configured apart or a client
// of NATS other than a gateway.
constexpr std::size_t kMaxRooms = 100000;

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
    pm::Counter& live_messages =
        counter(registry, "tickgate_feed_live_batches_total", "Batches published on the live subject (--live-batches)");
    pm::Counter& writes = counter(registry, "tickgate_feed_flushes_total",
                                  "Writes of buffered messages to NATS (one per --flush-window-us in a burst)");
    pm::Counter& keyframes =
        counter(registry, "tickgate_feed_book_keyframes_total", "Full books published on PREFIX.bookkf.<SYM> (one per book per second)");
    pm::Counter& client_messages = counter(registry, "tickgate_feed_client_messages_total",
                                           "Client messages sequenced and published (publish requests on PREFIX-publish)");
    pm::Counter& publish_refused = counter(registry, "tickgate_feed_publish_refused_total",
                                           "Publish requests refused with an error reply (malformed, bad topic, market-data channel, bad JSON)");
    pm::Gauge& rooms = gauge(registry, "tickgate_feed_rooms", "Rooms with a seq (published to, or restored from JetStream)");
};

std::uint64_t random_epoch() {
    std::random_device rd;
    std::uint64_t e = 0;
    // 0 is what a v1 message reads as: never an epoch of its own.
    for (int i = 0; i < 4 && e == 0; ++i) e = (static_cast<std::uint64_t>(rd()) << 32) | rd();
    return e ? e : 1;
}

}  // namespace

// A book as published: every change applied, so a keyframe is its state at the last seq.
struct Publisher::BookState {
    // The same capacity as a gateway's source book: both keep the same levels of the same changes.
    protocol::OrderBook book{2, 4, protocol::kBookCapacity};
    std::string keyframe_subject;             // <prefix>.bookkf.<SYM>
    std::vector<protocol::BusBookLevel> change;  // the change being gathered from its fragments
    bool in_change = false;
    bool reset = false;
    std::int64_t ts_ns = 0;                   // of the last change: a keyframe's ts
};

struct Publisher::Parts {
    // nats.c on an io_context of our own (as the gateway's feed): the loop thread reads (pings,
    // JetStream replies), and the publish thread writes its batches itself (WriteBatch).
    asio::io_context nats_io{1};
    asio::executor_work_guard<asio::io_context::executor_type> nats_work = asio::make_work_guard(nats_io);
    feeds::NatsEventLoop loop{nats_io, std::chrono::microseconds(0), [] { return false; }};
    std::thread loop_thread;
    feeds::FeedRunner feeds{kRingCapacity};
    std::mutex scrape_mutex;
    Families families;
    std::unique_ptr<runtime::MetricsServer> metrics;
    std::jthread publisher;
    // After the link (a member of Publisher declared later, so destroyed first): its close
    // needs the loop running.
    ~Parts() {
        nats_work.reset();
        nats_io.stop();
        if (loop_thread.joinable()) loop_thread.join();
    }
};

Publisher::Publisher(PublisherConfig config)
    : config_(std::move(config)),
      stream_(feeds::stream_name_for_prefix(config_.subject_prefix)),
      epoch_(random_epoch()),
      parts_(std::make_unique<Parts>()),
      publish_subject_(feeds::publish_subject_for_prefix(config_.subject_prefix)) {}

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
    runtime::set_total(f.live_messages, static_cast<double>(live_messages_.get()));
    runtime::set_total(f.writes, static_cast<double>(writes_.get()));
    runtime::set_total(f.keyframes, static_cast<double>(keyframes_.get()));
    runtime::set_total(f.client_messages, static_cast<double>(client_messages_.get()));
    runtime::set_total(f.publish_refused, static_cast<double>(publish_refused_.get()));
    f.rooms.Set(static_cast<double>(room_count_.get()));
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
    parts_->loop_thread = std::thread([this] {
        pthread_setname_np(pthread_self(), "nats-loop");
        parts_->nats_io.run();
    });
    link_ = feeds::NatsLink::open(config_.nats_urls, "tickgate-feed", std::move(events), error,
                                  [this](natsOptions* opts) { return parts_->loop.install(opts); });
    if (!link_) return false;
    parts_->metrics->start();
    const auto m = parts_->metrics->local_endpoint();
    TG_LOG(info, "tickgate-feed %s: feeds: %zu, publishing to %s.<channel>.<symbol> on %s", TICKGATE_VERSION,
           parts_->feeds.adapters().size(), config_.subject_prefix.c_str(), config_.nats.c_str());
    TG_LOG(info, "bus version %u", config_.bus_version);
    if (!config_.live_subject.empty())
        TG_LOG(info, "live batches on %s, per-topic subjects as well (JetStream's latest values)",
               config_.live_subject.c_str());
    if (config_.flush_window_us)
        TG_LOG(info, "in a burst, updates go out together once per %u µs", config_.flush_window_us);
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
    feeds::StreamEnsured stream;
    if (!feeds::ensure_last_value_stream(link_->get(), stream_, config_.subject_prefix, stream_spec_of(config_), stream,
                                         error))
        return false;
    if (stream.created) {
        TG_LOG(info, "epoch %016llx (new: no stream to continue from)", static_cast<unsigned long long>(epoch_));
        TG_LOG(info, "created JetStream stream %s over %s.> (%u messages per subject, %s storage)", stream_.c_str(),
               config_.subject_prefix.c_str(), config_.history, config_.stream_storage.c_str());
        return true;
    }
    if (stream.updated)
        TG_LOG(info, "stream %s now keeps %u messages per subject (--history)", stream_.c_str(), config_.history);
    if (stream.storage_kept)
        TG_LOG(warn, "stream %s keeps the storage it was created with, not --stream-storage %s: JetStream cannot "
               "change it (delete the stream to change it)", stream_.c_str(), config_.stream_storage.c_str());
    // Seq continues from the stream: one ephemeral consumer delivering the last message of every
    // subject, rather than a js_GetLastMsg request per topic (one round trip per topic).
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t count = 0, restored = 0;
    std::uint64_t stored_epoch = 0;
    const auto result = feeds::read_last_values(
        link_->get(), config_.subject_prefix + ".>", kRestoreBudget,
        [&](std::string_view subject, std::string_view data) { restore_from(subject, data, restored, stored_epoch); },
        count, error);
    if (result == feeds::LastValuesResult::failed) return false;
    const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    // The epoch names the seq space, which continues from the stream: so does the epoch, that of
    // the newest v2 message stored. Only a publisher with nothing to continue from (no stream, an
    // empty one, or one of v1 messages only) starts a new one, and gateways then reset their
    // seq checks and clients' resume points (protocol/README.md, "Epochs").
    if (stored_epoch != 0) {
        epoch_ = stored_epoch;
        TG_LOG(info, "epoch %016llx (continued from the stream)", static_cast<unsigned long long>(epoch_));
    } else {
        TG_LOG(info, "epoch %016llx (new: the stream holds no v2 message to continue from)",
               static_cast<unsigned long long>(epoch_));
    }
    TG_LOG(info, "stream %s: seq continues for %zu topics (read in %.1f ms)", stream_.c_str(), restored, ms);
    return true;
}

void Publisher::restore_from(std::string_view subject, std::string_view data, std::size_t& restored,
                             std::uint64_t& epoch) {
    protocol::BusMessage m;
    // Either version: the stream may hold what an earlier run published in the other one.
    if (protocol::parse_bus_message(data, m) != protocol::BusDecodeError::none) return;
    // Read in the stream's order: the last one seen is the newest.
    if (m.version == protocol::kBusVersion2 && m.epoch != 0) epoch = m.epoch;
    // Only <prefix>.<topic> itself: a longer subject ending in a topic is not one of ours.
    const auto ours = [&](std::string_view topic) {
        return !topic.empty() && subject.size() == config_.subject_prefix.size() + 1 + topic.size();
    };
    if (m.ungrouped_client_messages > 0) {
        const std::string_view topic = protocol::published_topic_from_subject(subject);
        if (!ours(topic)) return;
        auto it = rooms_.find(topic);
        if (it == rooms_.end()) {
            if (rooms_.size() >= kMaxRooms) return;
            it = rooms_.emplace(std::string(topic), RoomState{std::string(subject), 0}).first;
            room_count_.add(1);
        }
        protocol::for_each_client_message(m, [&](std::string_view, const protocol::BusClientMessage& c) {
            it->second.seq = std::max(it->second.seq, c.seq);
        });
        ++restored;
        return;
    }
    // Any market record: tickers, and books and trades too (each continues its own seq).
    const std::string_view topic = protocol::topic_from_subject(subject);
    if (m.ungrouped == 0 || !ours(topic)) return;  // nothing to continue from
    // A keyframe's seq is its book's (book.<SYM>): a restarted publisher's first change of the
    // book comes after both.
    const bool keyframe = protocol::topic_channel(topic) == "bookkf";
    TopicState& t = topic_state(keyframe ? "book." + std::string(protocol::topic_symbol(topic)) : std::string(topic));
    protocol::for_each_record(m, [&](std::string_view, protocol::BusRecordType type, std::string_view body) {
        protocol::MarketUpdate u;
        if (type == protocol::BusRecordType::ticker) {
            protocol::detail::decode_checked_ticker_body(body.data(), u);
        } else if (type == protocol::BusRecordType::trade) {
            protocol::decode_trade_body(body, u);
            t.trade_id = std::max(t.trade_id, u.trade.trade_id);
        } else {
            u.seq = protocol::BusBookRecord(body).seq();
        }
        t.seq = std::max(t.seq, u.seq);
    });
    ++restored;
}

bool Publisher::serve_publish_requests(std::string& error) {
    // A request is answered only once every room's seq is restored (attach() has returned), so a
    // restarted publisher never hands out a seq a room already had. The library subscribes again
    // by itself after a reconnect.
    natsStatus s =
        natsConnection_Subscribe(&publish_requests_, link_->get(), publish_subject_.c_str(), on_publish_request, this);
    // Told when the last callback has returned: the queue is then nobody's but ours.
    if (s == NATS_OK)
        s = natsSubscription_SetOnCompleteCB(publish_requests_, [](void* self) {
            static_cast<Publisher*>(self)->requests_complete_.store(true, std::memory_order_release);
        }, this);
    if (s != NATS_OK) {
        error = "cannot subscribe to " + publish_subject_ + ": " + natsStatus_GetText(s);
        return false;
    }
    TG_LOG(info, "serving publish requests on %s (client messages on %s.<channel>.<room>)", publish_subject_.c_str(),
           config_.subject_prefix.c_str());
    return true;
}

void Publisher::on_publish_request(natsConnection*, natsSubscription*, natsMsg* msg, void* self) {
    auto* p = static_cast<Publisher*>(self);
    {
        std::lock_guard lock(p->requests_mutex_);
        p->requests_.push_back(msg);
    }
    // The publish thread may be waiting on its ring, or for its feed's next event, for up to
    // 50 ms: a request does not wait that.
    p->requests_cv_.notify_one();
    p->parts_->feeds.channel().wake_consumer();
}

void Publisher::answer_publish_requests() {
    {
        std::lock_guard lock(requests_mutex_);
        if (requests_.empty()) return;
        answering_.swap(requests_);
    }
    feeds::NatsEventLoop::WriteBatch writes(parts_->loop);
    for (natsMsg* msg : answering_) {
        answer_publish_request(msg);
        natsMsg_Destroy(msg);
    }
    answering_.clear();
    writes.flush();
    writes_.add();
}

void Publisher::reply(natsMsg* request, const std::string& text) {
    const char* to = natsMsg_GetReply(request);
    if (!to || !*to) return;
    const natsStatus s = natsConnection_Publish(link_->get(), to, text.data(), static_cast<int>(text.size()));
    if (s != NATS_OK) {
        nats_errors_.add();
        if (nats_errors_.get() <= kLoggedErrors) TG_LOG(warn, "reply to %s failed: %s", to, natsStatus_GetText(s));
    }
}

void Publisher::answer_publish_request(natsMsg* msg) {
    const std::string_view data(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
    const auto refuse = [&](protocol::PublishRefusal r, std::string_view topic) {
        publish_refused_.add();
        if (publish_refused_.get() <= kLoggedErrors) {
            const std::string where = topic.empty() ? std::string() : " to " + std::string(topic.substr(0, 64));
            TG_LOG(warn, "refused a publish request%s: %s%s", where.c_str(), protocol::publish_refusal_text(r),
                   publish_refused_.get() == kLoggedErrors ? " (further ones are only counted)" : "");
        }
        reply(msg, protocol::publish_reply_error(r));
    };
    const char* to = natsMsg_GetReply(msg);
    if (!to || !*to) return refuse(protocol::PublishRefusal::no_reply_subject, {});
    protocol::PublishRequest request;
    if (const auto r = protocol::decode_publish_request(data, request); r != protocol::PublishRefusal::none) {
        // The topic as far as it can be read, for the log, when it is printable.
        std::string_view topic = data.size() > 5 ? data.substr(5, static_cast<std::uint8_t>(data[2])) : std::string_view{};
        for (char c : topic)
            if (c <= ' ' || c > '~') topic = {};
        return refuse(r, topic);
    }
    // Client messages are v2 records: a v1 bus has no way to carry them.
    if (config_.bus_version != 2) {
        publish_refused_.add();
        return reply(msg, protocol::publish_reply_error("bus_version", "the publisher sends bus v1: client messages need --bus-version 2"));
    }
    auto it = rooms_.find(request.topic);
    if (it == rooms_.end()) {
        if (rooms_.size() >= kMaxRooms) return refuse(protocol::PublishRefusal::too_many_rooms, request.topic);
        it = rooms_.emplace(std::string(request.topic), RoomState{config_.subject_prefix + "." + std::string(request.topic), 0})
                 .first;
        room_count_.add(1);
    }
    RoomState& room = it->second;
    protocol::PublishedMessage m;
    // As for market data, the seq is taken even if the publish fails: a gap, never a reuse.
    m.seq = ++room.seq;
    m.ts_ns = runtime::realtime_ns();
    m.from.assign(request.from);
    m.data.assign(request.data);
    record_.resize(protocol::client_message_record_size(m.from.size(), m.data.size()));
    protocol::encode_client_message_record(m, reinterpret_cast<std::byte*>(record_.data()));
    message_.resize(protocol::kBusV2HeaderSize);
    protocol::encode_bus_v2_header(epoch_, reinterpret_cast<std::byte*>(message_.data()));
    message_ += record_;
    const natsStatus s = natsConnection_Publish(link_->get(), room.subject.c_str(), message_.data(),
                                                static_cast<int>(message_.size()));
    if (s != NATS_OK) {
        nats_errors_.add();
        if (nats_errors_.get() <= kLoggedErrors)
            TG_LOG(warn, "publish to %s failed: %s", room.subject.c_str(), natsStatus_GetText(s));
        return reply(msg, protocol::publish_reply_error("nats", std::string("publish failed: ") + natsStatus_GetText(s)));
    }
    published_.add();
    client_messages_.add();
    if (!config_.live_subject.empty()) {
        // A batch of its own rather than a group in the market-data batch: a gateway of an earlier
        // release, which rejects a group under a room's subject, then loses nothing but this.
        std::string batch(protocol::kBusV2HeaderSize, '\0');
        protocol::encode_bus_v2_header(epoch_, reinterpret_cast<std::byte*>(batch.data()));
        const std::size_t at = batch.size();
        batch.resize(at + protocol::subject_group_size(room.subject.size(), record_.size()) - record_.size());
        protocol::encode_subject_group_header(room.subject, record_.size(), reinterpret_cast<std::byte*>(batch.data()) + at);
        batch += record_;
        if (natsConnection_Publish(link_->get(), config_.live_subject.c_str(), batch.data(), static_cast<int>(batch.size())) ==
            NATS_OK)
            live_messages_.add();
        else
            nats_errors_.add();
    }
    reply(msg, protocol::publish_reply_ok(m.seq));
}

Publisher::TopicState& Publisher::topic_state(std::string_view topic) {
    auto it = topics_.find(topic);
    if (it == topics_.end()) {
        it = topics_.emplace(std::string(topic), TopicState{config_.subject_prefix + "." + std::string(topic), 0}).first;
        topic_count_.add(1);
    }
    return it->second;
}

void Publisher::publish_one(protocol::MarketUpdate& u) {
    const bool v2 = config_.bus_version == 2;
    if (u.kind != protocol::UpdateKind::ticker && !v2) {
        // v1 is one ticker per message (a replay file's books and trades, say): said once.
        if (!std::exchange(skipped_v1_logged_, true))
            TG_LOG(warn, "bus version 1 carries tickers only: books and trades are skipped (--bus-version 2 carries them)");
        return;
    }
    TopicState& t = topic_state(u.topic());
    if (u.kind == protocol::UpdateKind::trade) return publish_trade(t, u);
    if (u.kind == protocol::UpdateKind::book) return publish_book_fragment(t, u);
    // The seq is taken even if the publish fails: a lost update is a gap, never a reuse.
    u.seq = ++t.seq;
    // ts stays when the local feed made the update (on this machine's clock, like the gateway's
    // own feeds): the time it then waits here, in the ring and the flush window, counts in every
    // latency measured from it, as the single-process path counts it.
    if (u.ts_ns == 0) u.ts_ns = runtime::realtime_ns();
    if (v2) {
        // v2 as every other record: its own message, and a group naming its subject in the live
        // batch (a gateway filters the batch with its --nats-subjects as nats-server filters the
        // per-topic subjects).
        record_.resize(protocol::kBusRecordHeaderSize + protocol::kTickerBodySize);
        protocol::encode_ticker_record(u, reinterpret_cast<std::byte*>(record_.data()));
        return send_record(t.subject, record_);
    }
    std::array<std::byte, protocol::kBusUpdateSize> record;
    protocol::encode_bus_update(u, record.data());
    publish_message(t.subject, reinterpret_cast<const char*>(record.data()), record.size());
}

void Publisher::publish_message(const std::string& subject, const char* data, std::size_t size) {
    // While reconnecting the library buffers (8 MiB); past that the publish fails.
    const natsStatus s = natsConnection_Publish(link_->get(), subject.c_str(), data, static_cast<int>(size));
    if (s == NATS_OK) {
        published_.add();
    } else {
        nats_errors_.add();
        if (nats_errors_.get() <= kLoggedErrors)
            TG_LOG(warn, "publish to %s failed: %s", subject.c_str(), natsStatus_GetText(s));
    }
}

void Publisher::send_record(const std::string& subject, std::string_view record) {
    message_.resize(protocol::kBusV2HeaderSize);
    protocol::encode_bus_v2_header(epoch_, reinterpret_cast<std::byte*>(message_.data()));
    message_ += record;
    publish_message(subject, message_.data(), message_.size());
    if (config_.live_subject.empty()) return;
    // A group holds at most a u16 of records: a record too large for one (a keyframe of thousands
    // of levels, which the 64-level books never reach) goes on its subject alone.
    if (1 + subject.size() + record.size() > protocol::kBusRecordMaxBody) return;
    if (live_.empty()) {
        live_.resize(protocol::kBusV2HeaderSize);
        protocol::encode_bus_v2_header(epoch_, reinterpret_cast<std::byte*>(live_.data()));
    }
    const std::size_t at = live_.size();
    live_.resize(at + protocol::subject_group_size(subject.size(), record.size()) - record.size());
    protocol::encode_subject_group_header(subject, record.size(), reinterpret_cast<std::byte*>(live_.data()) + at);
    live_ += record;
    ++live_records_;
    if (live_.size() >= kLiveBatchBytes) publish_live_batch();
}

void Publisher::publish_trade(TopicState& t, protocol::MarketUpdate& u) {
    // Both are the publisher's, so every gateway serves the same trade with the same numbers, and
    // a restarted publisher continues them from the stream.
    u.seq = ++t.seq;
    u.trade.trade_id = ++t.trade_id;
    if (u.ts_ns == 0) u.ts_ns = runtime::realtime_ns();
    record_.resize(protocol::kBusRecordHeaderSize + protocol::kTradeBodySize);
    protocol::encode_trade_record(u, reinterpret_cast<std::byte*>(record_.data()));
    send_record(t.subject, record_);
}

void Publisher::publish_book_fragment(TopicState& t, const protocol::MarketUpdate& u) {
    if (!t.book) {
        t.book = std::make_shared<BookState>();
        t.book->keyframe_subject =
            config_.subject_prefix + ".bookkf." + std::string(protocol::topic_symbol(u.topic()));
    }
    BookState& b = *t.book;
    const protocol::BookFragment& f = u.book;
    // As the gateway's engine reads fragments: one without a change open starts one.
    if (!b.in_change) {
        b.in_change = true;
        b.change.clear();
        b.reset = (f.flags & protocol::kBookFirst) && (f.flags & protocol::kBookReset);
        if (b.reset) b.book.clear();
        if (b.reset || b.book.depth(protocol::BookSide::bid) + b.book.depth(protocol::BookSide::ask) == 0)
            b.book.set_decimals(u.price_decimals, u.size_decimals);
    }
    const std::size_t count = std::min<std::size_t>(f.count, protocol::kLevelsPerFragment);
    for (std::size_t i = 0; i < count; ++i) {
        const bool ask = (f.ask_mask >> i) & 1;
        b.change.push_back({f.price[i], f.size[i], ask});
        b.book.apply(ask ? protocol::BookSide::ask : protocol::BookSide::bid, f.price[i], f.size[i]);
    }
    if (!(f.flags & protocol::kBookLast)) return;
    b.in_change = false;
    // One seq per change of the book, whatever the number of fragments it took.
    const protocol::BusBookChange change{b.book.price_decimals(), b.book.size_decimals(), ++t.seq,
                                         u.ts_ns ? u.ts_ns : runtime::realtime_ns(), b.reset};
    b.ts_ns = change.ts_ns;
    record_.resize(protocol::book_record_size(std::min(b.change.size(), protocol::kBookRecordMaxLevels)));
    protocol::encode_book_record(change, b.change, reinterpret_cast<std::byte*>(record_.data()));
    send_record(t.subject, record_);
}

void Publisher::publish_keyframes() {
    std::vector<protocol::BusBookLevel> levels;
    for (auto& [topic, t] : topics_) {
        // A book between fragments waits for the next round: a keyframe is a state after a change.
        if (!t.book || t.book->in_change || t.seq == 0) continue;
        const BookState& b = *t.book;
        levels.clear();
        for (const auto side : {protocol::BookSide::bid, protocol::BookSide::ask})
            for (const auto& l : b.book.levels(side)) levels.push_back({l.price, l.size, side == protocol::BookSide::ask});
        const protocol::BusBookChange change{b.book.price_decimals(), b.book.size_decimals(), t.seq, b.ts_ns, true};
        record_.resize(protocol::book_record_size(levels.size()));
        protocol::encode_book_record(change, levels, reinterpret_cast<std::byte*>(record_.data()));
        send_record(b.keyframe_subject, record_);
        keyframes_.add();
    }
}

void Publisher::publish_live_batch(bool keepalive) {
    if (live_records_ == 0 && !keepalive) return;
    if (live_.empty()) {
        live_.resize(protocol::kBusV2HeaderSize);
        protocol::encode_bus_v2_header(epoch_, reinterpret_cast<std::byte*>(live_.data()));
    }
    const natsStatus s = natsConnection_Publish(link_->get(), config_.live_subject.c_str(), live_.data(),
                                                static_cast<int>(live_.size()));
    if (s == NATS_OK) {
        live_messages_.add();
    } else {
        nats_errors_.add();
        if (nats_errors_.get() <= kLoggedErrors)
            TG_LOG(warn, "publish to %s failed: %s", config_.live_subject.c_str(), natsStatus_GetText(s));
    }
    live_.clear();
    live_records_ = 0;
    last_live_ = std::chrono::steady_clock::now();
}

void Publisher::housekeeping() {
    const bool reconnected = reattach_.exchange(false, std::memory_order_acq_rel);
    if (reconnected || (stream_retry_at_ && std::chrono::steady_clock::now() >= *stream_retry_at_)) {
        // After a reconnect: a server restarted without its store, or with the stream in memory
        // (--stream-storage memory), has lost the stream.
        std::string error;
        feeds::StreamEnsured stream;
        if (!feeds::ensure_last_value_stream(link_->get(), stream_, config_.subject_prefix, stream_spec_of(config_), stream,
                                             error)) {
            nats_errors_.add();
            if (!stream_retry_at_) TG_LOG(warn, "%s; trying again every %lld s", error.c_str(),
                                          static_cast<long long>(kStreamRetry.count()));
            stream_retry_at_ = std::chrono::steady_clock::now() + kStreamRetry;
        } else {
            stream_retry_at_.reset();
            if (stream.created) TG_LOG(warn, "stream %s was missing after reconnecting; created it again", stream_.c_str());
        }
    }
    answer_publish_requests();
    if (std::chrono::steady_clock::now() - last_keyframes_ >= kKeyframeInterval) {
        feeds::NatsEventLoop::WriteBatch writes(parts_->loop);
        publish_keyframes();
        publish_live_batch();
        last_keyframes_ = std::chrono::steady_clock::now();
    }
}

feeds::FeedAdapter* Publisher::feed_on_publish_thread() const {
    const auto& adapters = parts_->feeds.adapters();
    // A flush window would make the feed produce its updates late, at the window's end, with the
    // ts of then: the wait would vanish from every latency measured from ts. The ring keeps it.
    if (config_.feed_thread != "auto" || config_.flush_window_us != 0 || adapters.size() != 1 ||
        !adapters.front()->can_run_on_consumer_thread())
        return nullptr;
    return adapters.front().get();
}

void Publisher::publish_paced_feed(const std::stop_token& stop, feeds::FeedAdapter& feed) {
    using Clock = std::chrono::steady_clock;
    // The feed's own thread would ask the same: its deadlines are µs apart at 10,000/s.
    feeds::use_precise_timer_slack();
    // A local class has the member function's access: publish_one is private.
    struct Sink final : feeds::UpdateSink {
        explicit Sink(Publisher& p) : publisher(p) {}
        void put(const protocol::MarketUpdate& u) override {
            protocol::MarketUpdate update = u;
            publisher.publish_one(update);
            ++taken;
        }
        Publisher& publisher;
        std::size_t taken = 0;
    } sink(*this);
    auto next_due = Clock::now();
    while (!stop.stop_requested()) {
        housekeeping();
        auto now = Clock::now();
        if (now >= next_due) {
            // What is due goes out in one write, as what one consume() took from the ring.
            feeds::NatsEventLoop::WriteBatch writes(parts_->loop);
            sink.taken = 0;
            next_due = feed.produce_due(now, sink);
            if (sink.taken > 0) {
                publish_live_batch();
                writes.flush();
                writes_.add();
            }
            now = Clock::now();
        } else if (!config_.live_subject.empty() && now - last_live_ >= kLiveKeepalive) {
            feeds::NatsEventLoop::WriteBatch writes(parts_->loop);
            publish_live_batch(true);
        }
        auto wake = std::min({next_due, last_keyframes_ + kKeyframeInterval, now + std::chrono::milliseconds(50)});
        if (!config_.live_subject.empty()) wake = std::min(wake, last_live_ + kLiveKeepalive);
        if (now < wake) {
            // A publish request or the stop ends the wait early (on_publish_request notifies).
            std::unique_lock lock(requests_mutex_);
            requests_cv_.wait_until(lock, stop, wake, [this] { return !requests_.empty(); });
        }
    }
}

void Publisher::publish_loop(const std::stop_token& stop) {
    std::array<protocol::MarketUpdate, kBatchMax> batch;
    const auto window = std::chrono::microseconds(config_.flush_window_us);
    // When the last write went out: a burst is updates coming less than a window after it.
    auto last_flush = std::chrono::steady_clock::time_point{};
    while (!stop.stop_requested()) {
        housekeeping();
        std::size_t n = parts_->feeds.channel().consume(batch, std::chrono::milliseconds(50));
        if (n == 0) {
            if (!config_.live_subject.empty() && std::chrono::steady_clock::now() - last_live_ >= kLiveKeepalive) {
                feeds::NatsEventLoop::WriteBatch writes(parts_->loop);
                publish_live_batch(true);
            }
            continue;
        }
        // Everything published in here goes out in one write at the end (or a few, for a large
        // backlog): per-topic messages and the live batch together.
        feeds::NatsEventLoop::WriteBatch writes(parts_->loop);
        for (std::size_t i = 0; i < n; ++i) publish_one(batch[i]);
        const auto now = std::chrono::steady_clock::now();
        if (window.count() > 0 && now - last_flush < window) {
            // A burst: what comes until a window after the last write goes with these. The
            // first update after a quiet spell never waits (the branch above is not taken).
            std::this_thread::sleep_until(last_flush + window);
            std::size_t since_write = 0;
            while (!stop.stop_requested() && (n = parts_->feeds.channel().try_consume(batch)) > 0) {
                for (std::size_t i = 0; i < n; ++i) publish_one(batch[i]);
                // A backlog goes out in pieces rather than all in the library's buffer.
                if ((since_write += n) >= 4 * kBatchMax) {
                    publish_live_batch();
                    writes.flush();
                    writes_.add();
                    since_write = 0;
                }
            }
        }
        publish_live_batch();
        writes.flush();
        writes_.add();
        last_flush = std::chrono::steady_clock::now();
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
        if (!serve_publish_requests(attach_error)) {
            std::fprintf(stderr, "tickgate-feed: %s\n", attach_error.c_str());
            exit_code = 1;
            asio::post(signals_io, [&] { signals_io.stop(); });
            return;
        }
        if (feeds::FeedAdapter* feed = feed_on_publish_thread()) {
            TG_LOG(info, "the feed runs on the publish thread (--feed-thread own would give it a thread of its own)");
            publish_paced_feed(stop, *feed);
        } else {
            parts_->feeds.start();
            publish_loop(stop);
        }
    });
    signals_io.run();

    parts_->publisher.request_stop();
    parts_->feeds.channel().wake_consumer();
    parts_->publisher.join();
    parts_->feeds.request_stop();
    parts_->feeds.join();
    // No request is taken any more; those taken and not answered go unanswered (their senders time
    // out, as when the publisher is down).
    if (publish_requests_) {
        natsSubscription_Unsubscribe(publish_requests_);
        for (int i = 0; i < 200 && !requests_complete_.load(std::memory_order_acquire); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        natsSubscription_Destroy(publish_requests_);
        publish_requests_ = nullptr;
    }
    {
        std::lock_guard lock(requests_mutex_);
        for (natsMsg* msg : requests_) natsMsg_Destroy(msg);
        requests_.clear();
    }
    // What the library still buffers goes out now, if NATS is there to take it.
    if (link_->connected()) natsConnection_FlushTimeout(link_->get(), 1000);
    parts_->metrics->stop();
    link_.reset();  // while the loop runs: the close may still write and read
    TG_LOG(info, "stopped after publishing %llu updates",
           static_cast<unsigned long long>(published_.get()));
    return exit_code;
}

}  // namespace tickgate::publisher
