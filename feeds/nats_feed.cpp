#include "feeds/nats_feed.hpp"

#include <nats/nats.h>
#include <pthread.h>

#include <thread>

#include "feeds/nats_bus.hpp"
#include "feeds/runtime/clock.hpp"
#include "feeds/runtime/log.hpp"
#include "protocol/bus_update.hpp"

namespace tickgate::feeds {
namespace {

// Messages the core subscription may hold while the feed thread is busy (a JetStream reload, a
// full ring). Past either bound the library drops and the topics show gaps: memory stays bounded.
constexpr int kPendingMessages = 1 << 18;
constexpr int kPendingBytes = 64 << 20;
// A reload of latest values gives up after this long; the live stream goes on regardless.
constexpr auto kReloadBudget = std::chrono::seconds(10);
// Decode errors are logged up to this many times, then only counted: a flood must not flood the log.
constexpr std::uint64_t kLoggedDecodeErrors = 10;

// nats.c hands every destroyed message to its garbage-collector thread and wakes that thread when
// its list was empty: one extra thread wake-up per message at steady rates (measured: a third of the
// feed's context switches). Destroying received messages in batches wakes it once per batch.
constexpr std::size_t kDestroyBatch = 64;

void destroy_all(std::vector<natsMsg*>& msgs) {
    for (natsMsg* m : msgs) natsMsg_Destroy(m);
    msgs.clear();
}

}  // namespace

std::unique_ptr<NatsFeed> NatsFeed::create(std::string_view servers, const NatsOptions& options,
                                           std::uint16_t feed_index, std::string& error) {
    std::vector<std::string> urls;
    if (!parse_nats_servers(servers, urls, error)) return nullptr;
    if (options.subjects.empty()) {
        error = "NATS subjects must not be empty";
        return nullptr;
    }
    return std::unique_ptr<NatsFeed>(new NatsFeed(std::move(urls), options, feed_index));
}

NatsFeed::NatsFeed(std::vector<std::string> urls, const NatsOptions& options, std::uint16_t feed_index)
    : urls_(std::move(urls)), options_(options), feed_index_(feed_index) {
    name_ = "nats://";
    for (std::size_t i = 0; i < urls_.size(); ++i) name_ += (i ? "," : "") + urls_[i].substr(7);
}

NatsFeed::~NatsFeed() = default;

void NatsFeed::run(std::stop_token stop, UpdateChannel& out) {
    // Named before the library starts its threads (they inherit the name), so the whole cost of
    // ingesting from NATS can be told apart per thread (bench/scenarios/nats.py does).
    pthread_setname_np(pthread_self(), "nats-feed");
    std::string error;
    NatsLink::Events events;
    events.up = [this] {
        stats_.connected.store(true, std::memory_order_relaxed);
        reload_.store(true, std::memory_order_release);
    };
    events.down = [this] {
        stats_.disconnects.fetch_add(1, std::memory_order_relaxed);
        stats_.connected.store(false, std::memory_order_release);
    };
    link_ = NatsLink::open(urls_, "tickgate", std::move(events), error);
    if (!link_) {
        TG_LOG(error, "feed %s: %s", name_.c_str(), error.c_str());
        return;
    }
    // The live subscription comes first, so nothing published while the latest values are read
    // is missed; the library re-subscribes by itself after a reconnect.
    natsSubscription* sub = nullptr;
    natsStatus s = natsConnection_SubscribeSync(&sub, link_->get(), options_.subjects.c_str());
    if (s == NATS_OK) s = natsSubscription_SetPendingLimits(sub, kPendingMessages, kPendingBytes);
    if (s != NATS_OK) {
        TG_LOG(error, "feed %s: cannot subscribe to %s: %s", name_.c_str(), options_.subjects.c_str(),
               natsStatus_GetText(s));
        if (sub) natsSubscription_Destroy(sub);
        link_.reset();
        return;
    }
    TG_LOG(info, "feed %s: subscribed to %s", name_.c_str(), options_.subjects.c_str());
    std::vector<natsMsg*> spent;
    spent.reserve(kDestroyBatch);
    while (!stop.stop_requested()) {
        stats_.reconnects.store(link_->reconnects(), std::memory_order_relaxed);
        if (reload_.exchange(false, std::memory_order_acq_rel)) load_latest(out, stop);
        natsMsg* msg = nullptr;
        s = natsSubscription_NextMsg(&msg, sub, 100);
        if (s == NATS_OK) {
            ingest(natsMsg_GetSubject(msg),
                   std::string_view(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg))), true,
                   out, stop);
            spent.push_back(msg);
            if (spent.size() == kDestroyBatch) destroy_all(spent);
        } else if (s == NATS_TIMEOUT) {
            destroy_all(spent);
        } else if (s == NATS_SLOW_CONSUMER) {
            TG_LOG(warn, "feed %s: fell behind, NATS dropped messages (seq gaps follow)", name_.c_str());
        } else {
            // Closed or invalid only at shutdown; do not spin meanwhile.
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
    destroy_all(spent);
    natsSubscription_Destroy(sub);
    link_.reset();
    stats_.connected.store(false, std::memory_order_relaxed);
}

void NatsFeed::load_latest(UpdateChannel& out, const std::stop_token& stop) {
    // Make sure the server has our live subscription before reading the store, so the two overlap.
    natsConnection_FlushTimeout(link_->get(), 1000);
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t count = 0;
    std::string error;
    const auto result = read_last_values(
        link_->get(), options_.subjects, kReloadBudget,
        [&](std::string_view subject, std::string_view data) { ingest(subject, data, false, out, stop); }, count, error);
    const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    stats_.loaded.add(count);
    switch (result) {
    case LastValuesResult::loaded:
        TG_LOG(info, "feed %s: %zu latest values from JetStream in %.1f ms", name_.c_str(), count, ms);
        break;
    case LastValuesResult::no_stream:
        TG_LOG(info, "feed %s: no JetStream stream holds %s yet; live updates only", name_.c_str(),
               options_.subjects.c_str());
        break;
    case LastValuesResult::failed:
        TG_LOG(warn, "feed %s: %s (%zu latest values loaded)", name_.c_str(), error.c_str(), count);
        break;
    }
}

void NatsFeed::ingest(std::string_view subject, std::string_view data, bool live, UpdateChannel& out,
                      const std::stop_token& stop) {
    stats_.messages.add();
    const std::string_view topic = protocol::topic_from_subject(subject);
    protocol::BusMessage m;
    auto e = topic.empty() ? protocol::BusDecodeError::bad_subject : protocol::parse_bus_message(data, m);
    if (e != protocol::BusDecodeError::none) {
        stats_.decode_errors.add();
        if (stats_.decode_errors.get() <= kLoggedDecodeErrors)
            TG_LOG(warn, "feed %s: skipped a message on %.*s: %s%s", name_.c_str(),
                   static_cast<int>(std::min<std::size_t>(subject.size(), 128)), subject.data(),
                   protocol::bus_decode_error_name(e),
                   stats_.decode_errors.get() == kLoggedDecodeErrors ? " (further ones are only counted)" : "");
        return;
    }
    // Types a later publisher adds (books, trades, client messages) are not ours to guess at.
    if (m.unknown) stats_.unknown_records.add(m.unknown);
    if (m.version == protocol::kBusVersion2 && m.epoch != epoch_) {
        epoch_ = m.epoch;
        TG_LOG(info, "feed %s: publisher epoch %016llx", name_.c_str(), static_cast<unsigned long long>(m.epoch));
    }
    if (m.tickers == 0) return;
    auto it = last_seq_.find(topic);
    if (it == last_seq_.end()) {
        if (last_seq_.size() >= options_.max_topics) {
            stats_.topic_limit_drops.add(m.tickers);
            return;
        }
        it = last_seq_.emplace(std::string(topic), 0).first;
    }
    std::uint64_t& last = it->second;
    const std::int64_t now = live ? runtime::realtime_ns() : 0;
    protocol::for_each_ticker(m, [&](const protocol::TickerUpdate& decoded) {
        if (decoded.seq <= last) {
            stats_.duplicates.add();
            return;
        }
        last = decoded.seq;
        protocol::TickerUpdate u = decoded;
        u.set_topic(topic);
        u.feed = feed_index_;
        if (live) stats_.latency.observe_ns(now - u.ts_ns);
        out.publish(u, stop);
    });
}

}  // namespace tickgate::feeds
