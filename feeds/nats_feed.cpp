#include "feeds/nats_feed.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nats/nats.h>
#include <pthread.h>

#include <algorithm>
#include <charconv>
#include <future>
#include <optional>
#include <random>
#include <thread>
#include <utility>

#include "feeds/nats_bus.hpp"
#include "feeds/nats_event_loop.hpp"
#include "protocol/topic.hpp"
#include "feeds/runtime/clock.hpp"
#include "feeds/runtime/log.hpp"
#include "protocol/bus_announcement.hpp"
#include "protocol/bus_publish.hpp"
#include "protocol/bus_update.hpp"

namespace tickgate::feeds {
namespace asio = boost::asio;
namespace {

// Messages the core subscription may hold while the feed does not take them (a JetStream reload,
// a full ring). Past either bound the library drops and the topics show gaps: memory stays bounded.
constexpr int kPendingMessages = 1 << 18;
constexpr int kPendingBytes = 64 << 20;
// A reload of latest values gives up after this long; the live stream goes on regardless.
constexpr auto kReloadBudget = std::chrono::seconds(10);
// Hosted on worker 0: the ring room a message needs before it is taken. The most updates one
// message can hold: nats-server's 1 MiB payload limit of ticker records is about 10,000, a
// book record's fragments fewer per byte. Half a lane at most (the gateway's lanes hold 65,536),
// so that a small ring is still read.
constexpr std::size_t kHostedHeadroom = 16384;
std::size_t hosted_headroom(const UpdateChannel& out) { return std::min(kHostedHeadroom, out.lane_capacity() / 2); }
constexpr auto kHostedRetry = std::chrono::microseconds(200);
// Decode errors are logged up to this many times, then only counted: a flood must not flood the log.
constexpr std::uint64_t kLoggedDecodeErrors = 10;
// A publisher sending batches sends one at least every 200 ms (an empty one when idle): after this
// long without one, the feed goes back to the per-topic subjects (a publisher stopped, or
// restarted without --live-batches) and reloads the latest values to cover the silence.
constexpr auto kBatchSilence = std::chrono::milliseconds(1000);

// nats.c hands every destroyed message to its garbage-collector thread and wakes that thread when
// its list was empty: one extra thread wake-up per message at steady rates (measured: a third of the
// feed's context switches). Destroying received messages in batches wakes it once per batch, and
// a quiet feed's last few go after kDestroyIdle.
constexpr std::size_t kDestroyBatch = 1024;
constexpr auto kDestroyIdle = std::chrono::milliseconds(50);

std::uint64_t random_origin() {
    std::random_device rd;
    std::uint64_t o = 0;
    // 0 would read as no origin: never one of ours.
    for (int i = 0; i < 4 && o == 0; ++i) o = (static_cast<std::uint64_t>(rd()) << 32) | rd();
    return o ? o : 1;
}

void destroy_all(std::vector<natsMsg*>& msgs) {
    for (natsMsg* m : msgs) natsMsg_Destroy(m);
    msgs.clear();
}

/// Runs f on the io_context's thread and waits for it (the loop thread's state is handed over
/// this way, never shared).
template <class F>
void run_on(asio::io_context& io, F&& f) {
    std::promise<void> done;
    auto finished = done.get_future();
    asio::post(io, [&] {
        f();
        done.set_value();
    });
    finished.wait();
}

}  // namespace

// What the loop thread owns: the live subscriptions and the messages it has taken from them.
// Two subscriptions when the publisher's batched live subject is known: the per-topic one
// (`sub`, --nats-subjects) while no batch comes, and the batches' (`batches`) all along. The
// first valid batch switches the feed to batches alone (the per-topic subscription goes), a
// silence of kBatchSilence back to the per-topic one.
struct NatsFeed::Live {
    Live(asio::io_context& io, NatsEventLoop& loop) : loop(loop), destroy_timer(io), silence_timer(io), retry_timer(io) {}
    NatsEventLoop& loop;
    natsSubscription* sub = nullptr;
    natsSubscription* batches = nullptr;
    bool batched = false;  // reading `batches` only; `sub` is gone
    std::chrono::steady_clock::time_point last_batch{};
    bool paused = false;  // a reload is reading the store: the live backlog waits in the library
    std::vector<natsMsg*> spent;
    asio::steady_timer destroy_timer;
    bool destroy_armed = false;
    asio::steady_timer silence_timer;
    // Hosted on the ring consumer's thread: a message is taken only while the lane has room for
    // everything it can hold, and otherwise waits in the library until the engine has drained.
    bool hosted = false;
    asio::steady_timer retry_timer;
    bool retry_armed = false;
    // The MessageBus side, never paused by a reload: the publisher's replies to our requests (on
    // <inbox>.*, delivered by the library's thread: see on_reply) and other gateways' announcements.
    natsSubscription* replies = nullptr;
    natsSubscription* announcements = nullptr;
};

// A forwarded publish waiting for its reply, on the loop thread.
struct NatsFeed::PendingPublish {
    explicit PendingPublish(asio::io_context& io) : timeout(io) {}
    std::function<void(PublishOutcome)> done;
    asio::steady_timer timeout;
};

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
    : urls_(std::move(urls)), options_(options), feed_index_(feed_index), books_(options.max_topics),
      origin_(random_origin()) {
    name_ = "nats://";
    for (std::size_t i = 0; i < urls_.size(); ++i) name_ += (i ? "," : "") + urls_[i].substr(7);
    live_subject_ = resolve_live_subject(options_.subjects, options_.live_subject);
    bus_prefix_ = resolve_bus_prefix(options_.subjects);
    if (!bus_prefix_.empty()) {
        publish_subject_ = publish_subject_for_prefix(bus_prefix_);
        announce_subject_ = announce_subject_for_prefix(bus_prefix_);
    }
}

std::string NatsFeed::resolve_bus_prefix(std::string_view subjects) {
    // PREFIX.> reads a whole prefix; PREFIX.<channel>.<symbol> (either a wildcard or not) one
    // publisher's topics under PREFIX.
    std::string_view prefix;
    if (subjects.ends_with(".>")) {
        prefix = subjects.substr(0, subjects.size() - 2);
    } else {
        const std::size_t last = subjects.rfind('.');
        if (last == std::string_view::npos || last == 0) return {};
        const std::size_t before = subjects.rfind('.', last - 1);
        if (before == std::string_view::npos) return {};
        prefix = subjects.substr(0, before);
    }
    if (prefix.empty() || prefix.front() == '.' || prefix.back() == '.' || prefix.find("..") != std::string_view::npos ||
        prefix.find_first_of("*> ") != std::string_view::npos)
        return {};
    return std::string(prefix);
}

std::string NatsFeed::resolve_live_subject(std::string_view subjects, std::string_view live_subject) {
    if (live_subject == "none" || live_subject.empty()) return {};
    if (live_subject != "auto") return std::string(live_subject);
    // PREFIX.> with no wildcard in PREFIX: every topic of one publisher's prefix, which its batches
    // carry too. A narrower --nats-subjects reads the per-topic subjects: nats-server's own filter
    // is cheaper there than taking every topic's batch to keep a few.
    if (!subjects.ends_with(".>") || subjects.size() < 3) return {};
    const std::string_view prefix = subjects.substr(0, subjects.size() - 2);
    if (prefix.find_first_of("*> ") != std::string_view::npos) return {};
    return live_subject_for_prefix(prefix);
}

NatsFeed::~NatsFeed() = default;

void NatsFeed::offer_event_loop(asio::io_context& io) {
    if (options_.reader == "worker") host_ = &io;
}

void NatsFeed::run(std::stop_token stop, UpdateChannel& out) {
    // Named before the loop thread and the library's threads start (they inherit the name), so
    // the whole cost of ingesting from NATS can be told apart per thread (bench/scenarios/nats.py).
    pthread_setname_np(pthread_self(), "nats-feed");
    // nats.c reads and parses on the loop's thread, and the live messages are taken right there:
    // no hand-off between threads per message. Hosted, that thread is worker 0's, which also
    // drains the ring: the update goes from the socket to the fan-out without a thread hop.
    std::optional<asio::io_context> own_io;
    if (!host_) own_io.emplace(1);
    asio::io_context& io = host_ ? *host_ : *own_io;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
    if (own_io) work.emplace(asio::make_work_guard(*own_io));
    Live* reading = nullptr;
    std::optional<NatsEventLoop> loop_storage;
    NatsEventLoop& loop =
        loop_storage.emplace(io, std::chrono::microseconds(options_.read_coalesce_us), [&] { return reading && drain_live(*reading, out, stop); });
    std::optional<Live> live_storage;
    Live& live = live_storage.emplace(io, loop);
    live.hosted = host_ != nullptr;
    reading = &live;
    std::thread loop_thread;
    if (own_io) loop_thread = std::thread([&] { io.run(); });
    const auto finish = [&] {
        link_.reset();
        if (own_io) {
            work.reset();
            io.stop();
            loop_thread.join();
            return;
        }
        // The host's loop goes on: first every wait of ours is cancelled, and only once those
        // cancellations have run (they are queued ahead of the second step) are the objects they
        // belong to destroyed, on that loop's thread.
        std::promise<void> settled;
        asio::post(io, [&] {
            live.destroy_timer.cancel();
            live.silence_timer.cancel();
            live.retry_timer.cancel();
            loop.quiesce();
            asio::post(io, [&] {
                reading = nullptr;
                live_storage.reset();
                loop_storage.reset();
                settled.set_value();
            });
        });
        settled.get_future().wait();
    };

    std::string error;
    NatsLink::Events events;
    events.up = [this] {
        stats_.connected.store(true, std::memory_order_relaxed);
        {
            std::lock_guard lock(reload_mutex_);
            reload_ = true;
        }
        reload_cv_.notify_all();
    };
    events.down = [this] {
        stats_.disconnects.fetch_add(1, std::memory_order_relaxed);
        stats_.connected.store(false, std::memory_order_release);
        // Their replies will not come on this connection: say so now rather than at the timeout.
        std::lock_guard lock(bus_mutex_);
        if (bus_io_) asio::post(*bus_io_, [this] { fail_pending_publishes("NATS disconnected"); });
    };
    link_ = NatsLink::open(urls_, "tickgate", std::move(events), error,
                           [&](natsOptions* opts) { return loop.install(opts); });
    if (!link_) {
        TG_LOG(error, "feed %s: %s", name_.c_str(), error.c_str());
        return finish();
    }
    // The live subscriptions come first, so nothing published while the latest values are read
    // is missed; the library re-subscribes by itself after a reconnect. The batches' comes before
    // the per-topic one: from the first batch on, every update is in a batch.
    natsSubscription* batches = nullptr;
    if (!live_subject_.empty()) {
        batches = subscribe(live_subject_);
        if (!batches) {
            link_->close();
            return finish();
        }
        TG_LOG(info, "feed %s: watching %s for the publisher's batches", name_.c_str(), live_subject_.c_str());
    }
    natsSubscription* sub = subscribe(options_.subjects);
    if (!sub) {
        if (batches) natsSubscription_Destroy(batches);
        link_->close();
        return finish();
    }
    TG_LOG(info, "feed %s: subscribed to %s", name_.c_str(), options_.subjects.c_str());
    // The MessageBus side: the publisher's replies to an inbox of ours, and the announcements.
    natsSubscription* replies = nullptr;
    natsSubscription* announcements = nullptr;
    if (!bus_prefix_.empty()) {
        natsInbox* inbox = nullptr;
        if (natsInbox_Create(&inbox) == NATS_OK) {
            inbox_ = inbox;
            natsInbox_Destroy(inbox);
            // Asynchronous, unlike every other subscription of the feed: a synchronous one hands
            // nats-server's "no responders" status over as an error without its subject, so the
            // request it answers could not be told; the callback gets the message itself.
            const std::string subject = inbox_ + ".*";
            natsStatus st = natsConnection_Subscribe(&replies, link_->get(), subject.c_str(), on_reply, this);
            // Told when the last callback has returned, so the feed never goes while one runs.
            if (st == NATS_OK)
                st = natsSubscription_SetOnCompleteCB(replies, [](void* self) {
                    static_cast<NatsFeed*>(self)->replies_complete_.store(true, std::memory_order_release);
                }, this);
            if (st != NATS_OK) {
                TG_LOG(error, "feed %s: cannot subscribe to %s", name_.c_str(), subject.c_str());
                if (replies) natsSubscription_Destroy(replies);
                replies = nullptr;
            }
        }
        announcements = subscribe(announce_subject_);
        if (replies && announcements)
            TG_LOG(info, "feed %s: client messages through %s, announcements on %s", name_.c_str(), publish_subject_.c_str(),
                   announce_subject_.c_str());
    } else {
        TG_LOG(info, "feed %s: %s names no subject prefix: no client publishing or announcements over NATS", name_.c_str(),
               options_.subjects.c_str());
    }
    run_on(io, [&] {
        live.sub = sub;
        live.batches = batches;
        live.replies = replies;
        live.announcements = announcements;
        loop_io_ = &io;
    });
    if (replies && announcements) {
        std::lock_guard lock(bus_mutex_);
        bus_io_ = &io;
        bus_nc_ = link_->get();
    }
    while (!stop.stop_requested()) {
        stats_.reconnects.store(link_->reconnects(), std::memory_order_relaxed);
        bool reload = false;
        {
            std::unique_lock lock(reload_mutex_);
            // Bounded, so the reconnect count above stays fresh.
            reload_cv_.wait_for(lock, stop, std::chrono::milliseconds(100), [this] { return reload_; });
            reload = std::exchange(reload_, false);
        }
        if (!reload || stop.stop_requested()) continue;
        // Live messages wait in the library meanwhile, and go after the store's: as they came.
        run_on(io, [&] { live.paused = true; });
        std::vector<std::pair<std::string, std::string>> latest;
        load_latest(latest);
        // The store's epoch is its newest message's (read last): a reload after the publisher
        // started over brings the new epoch before any of the stored values.
        std::uint64_t store_epoch = 0;
        for (auto it = latest.rbegin(); it != latest.rend() && store_epoch == 0; ++it) {
            protocol::BusMessage m;
            if (protocol::parse_bus_message(it->second, m) == protocol::BusDecodeError::none &&
                m.version == protocol::kBusVersion2)
                store_epoch = m.epoch;
        }
        run_on(io, [&] { reload_epoch_ = store_epoch; });
        // Hosted, the ring's consumer is the loop's own thread: the store's values go in while
        // they fit, and the loop drains the ring between the pieces.
        std::size_t next = 0;
        while (next < latest.size() && !stop.stop_requested()) {
            bool progressed = false;
            run_on(io, [&] {
                for (; next < latest.size() && (!live.hosted || out.room() >= hosted_headroom(out)); ++next, progressed = true)
                    ingest(latest[next].first, latest[next].second, false, out, stop);
            });
            if (!progressed) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        run_on(io, [&] {
            live.last_batch = std::chrono::steady_clock::now();
            live.paused = false;
            drain_live(live, out, stop);
        });
    }
    {
        // From here forward_publish answers at once; what was posted before runs first (the loop
        // takes its handlers in order) and is failed below with everything still in flight.
        std::lock_guard lock(bus_mutex_);
        bus_io_ = nullptr;
        bus_nc_ = nullptr;
    }
    if (replies) {
        // No reply callback runs once this returns (bounded: the library's thread is not ours).
        natsSubscription_Unsubscribe(replies);
        for (int i = 0; i < 200 && !replies_complete_.load(std::memory_order_acquire); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    run_on(io, [&] {
        fail_pending_publishes("the NATS feed stopped");
        live.destroy_timer.cancel();
        live.silence_timer.cancel();
        destroy_all(live.spent);
        if (live.sub) natsSubscription_Destroy(live.sub);
        if (live.batches) natsSubscription_Destroy(live.batches);
        if (live.replies) natsSubscription_Destroy(live.replies);
        if (live.announcements) natsSubscription_Destroy(live.announcements);
        live.sub = live.batches = live.replies = live.announcements = nullptr;
    });
    link_->close();  // while the loop runs: the close may still write and read
    stats_.connected.store(false, std::memory_order_relaxed);
    finish();
}

natsSubscription* NatsFeed::subscribe(const std::string& subject) {
    natsSubscription* sub = nullptr;
    natsStatus s = natsConnection_SubscribeSync(&sub, link_->get(), subject.c_str());
    if (s == NATS_OK) s = natsSubscription_SetPendingLimits(sub, kPendingMessages, kPendingBytes);
    if (s != NATS_OK) {
        TG_LOG(error, "feed %s: cannot subscribe to %s: %s", name_.c_str(), subject.c_str(), natsStatus_GetText(s));
        if (sub) natsSubscription_Destroy(sub);
        return nullptr;
    }
    return sub;
}

bool NatsFeed::drain_live(Live& live, UpdateChannel& out, const std::stop_token& stop) {
    bool took = false;
    // It does not touch the ring, and a reload does not hold it up.
    if (live.announcements) took |= drain_announcements(live.announcements);
    // The per-topic messages first: any batch queued now came after the per-topic messages of
    // the updates in it (one publisher connection, one server, one order), so taking them in this
    // order loses nothing when the batches take over.
    if (live.sub) took |= drain_subscription(live, live.sub, false, out, stop);
    if (live.batches) took |= drain_subscription(live, live.batches, true, out, stop);
    if (live.spent.empty() || live.destroy_armed) return took;
    live.destroy_armed = true;
    live.destroy_timer.expires_after(kDestroyIdle);
    live.destroy_timer.async_wait([&live](const boost::system::error_code& ec) {
        live.destroy_armed = false;
        if (!ec) destroy_all(live.spent);
    });
    return took;
}

bool NatsFeed::drain_subscription(Live& live, natsSubscription* sub, bool batches, UpdateChannel& out,
                                  const std::stop_token& stop) {
    // As many as are queued now, counted first: an empty queue is then never asked for (which
    // the library answers with an error it formats).
    int queued = 0;
    if (natsSubscription_GetPending(sub, &queued, nullptr) != NATS_OK) return false;
    if (live.paused) return queued > 0;
    for (int i = 0; i < queued && !stop.stop_requested(); ++i) {
        if (live.hosted && out.room() < hosted_headroom(out)) {
            retry_when_drained(live, out, stop);
            break;
        }
        natsMsg* msg = nullptr;
        const natsStatus s = natsSubscription_NextMsg(&msg, sub, 0);
        if (s == NATS_SLOW_CONSUMER) {
            TG_LOG(warn, "feed %s: fell behind, NATS dropped messages (seq gaps follow)", name_.c_str());
            continue;
        }
        if (s != NATS_OK) break;
        const std::string_view subject = natsMsg_GetSubject(msg);
        const std::string_view data(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
        const bool valid_batch = ingest(subject, data, true, out, stop) && batches;
        live.spent.push_back(msg);
        if (live.spent.size() == kDestroyBatch) destroy_all(live.spent);
        if (!valid_batch) continue;
        live.last_batch = std::chrono::steady_clock::now();
        if (!live.batched) switch_to_batches(live);
    }
    return queued > 0;
}

void NatsFeed::retry_when_drained(Live& live, UpdateChannel& out, const std::stop_token& stop) {
    stats_.ring_waits.add();
    if (live.retry_armed) return;
    live.retry_armed = true;
    live.retry_timer.expires_after(kHostedRetry);
    live.retry_timer.async_wait([this, &live, &out, stop](const boost::system::error_code& ec) {
        if (ec) return;
        live.retry_armed = false;
        drain_live(live, out, stop);
    });
}

void NatsFeed::switch_to_batches(Live& live) {
    live.batched = true;
    stats_.batched.store(true, std::memory_order_relaxed);
    // The publisher sends a burst at most once per its --flush-window-us already: waiting here
    // too would add latency and save no wake-up.
    live.loop.set_coalesce(std::chrono::microseconds(0));
    // What the per-topic subscription still holds, or is sent before the server sees the
    // unsubscribe, is in the batches too (they have been subscribed since before).
    if (live.sub) {
        natsSubscription_Unsubscribe(live.sub);
        natsSubscription_Destroy(live.sub);
        live.sub = nullptr;
    }
    TG_LOG(info, "feed %s: the publisher sends batches on %s: reading those instead of %s", name_.c_str(),
           live_subject_.c_str(), options_.subjects.c_str());
    watch_batch_silence(live);
}

void NatsFeed::watch_batch_silence(Live& live) {
    live.silence_timer.expires_after(kBatchSilence / 4);
    live.silence_timer.async_wait([this, &live](const boost::system::error_code& ec) {
        if (ec || !live.batched || !live.batches) return;
        // A reload pauses the reading, and an outage stops everything: neither silence is the
        // publisher's (after a reconnect the reload runs anyway, and the batches get their second).
        const auto now = std::chrono::steady_clock::now();
        if (live.paused || !stats_.connected.load(std::memory_order_relaxed)) live.last_batch = now;
        if (now - live.last_batch < kBatchSilence) return watch_batch_silence(live);
        natsSubscription* sub = subscribe(options_.subjects);
        if (!sub) return watch_batch_silence(live);  // tried again in a moment
        live.sub = sub;
        live.batched = false;
        stats_.batched.store(false, std::memory_order_relaxed);
        live.loop.set_coalesce(std::chrono::microseconds(options_.read_coalesce_us));
        TG_LOG(warn, "feed %s: no batch on %s for %lld ms: back to %s, reloading the latest values", name_.c_str(),
               live_subject_.c_str(), static_cast<long long>(kBatchSilence.count()), options_.subjects.c_str());
        // What came meanwhile on the per-topic subjects only is in the store.
        {
            std::lock_guard lock(reload_mutex_);
            reload_ = true;
        }
        reload_cv_.notify_all();
    });
}

void NatsFeed::load_latest(std::vector<std::pair<std::string, std::string>>& latest) {
    // Make sure the server has our live subscription before reading the store, so the two overlap.
    natsConnection_FlushTimeout(link_->get(), 1000);
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t count = 0;
    std::string error;
    // One message per subject (with --history, up to that many); more subjects than topics the
    // feed may track cannot all be kept.
    const auto keep = [&](std::string_view subject, std::string_view data) {
        if (options_.history > 0 || latest.size() < options_.max_topics) latest.emplace_back(subject, data);
    };
    const auto result = options_.history > 0
                            ? read_recent_values(link_->get(), options_.subjects, options_.history, options_.max_topics,
                                                 kReloadBudget, keep, count, error)
                            : read_last_values(link_->get(), options_.subjects, kReloadBudget, keep, count, error);
    const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    stats_.loaded.add(count);
    switch (result) {
    case LastValuesResult::loaded:
        if (options_.history > 0)
            TG_LOG(info, "feed %s: %zu stored messages from JetStream in %.1f ms (up to %u per subject, --history)",
                   name_.c_str(), latest.size(), ms, options_.history);
        else
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

bool NatsFeed::ingest(std::string_view subject, std::string_view data, bool live, UpdateChannel& out,
                      const std::stop_token& stop) {
    stats_.messages.add();
    protocol::BusMessage m;
    auto e = protocol::parse_bus_message(data, m);
    // Records outside a group are the subject's topic's: the subject must name one.
    if (e == protocol::BusDecodeError::none && m.ungrouped > 0 && protocol::topic_from_subject(subject).empty())
        e = protocol::BusDecodeError::bad_subject;
    // And client messages outside a group are the subject's room's.
    if (e == protocol::BusDecodeError::none && m.ungrouped_client_messages > 0 &&
        protocol::published_topic_from_subject(subject).empty())
        e = protocol::BusDecodeError::bad_subject;
    if (e != protocol::BusDecodeError::none) {
        stats_.decode_errors.add();
        if (stats_.decode_errors.get() <= kLoggedDecodeErrors)
            TG_LOG(warn, "feed %s: skipped a message on %.*s: %s%s", name_.c_str(),
                   static_cast<int>(std::min<std::size_t>(subject.size(), 128)), subject.data(),
                   protocol::bus_decode_error_name(e),
                   stats_.decode_errors.get() == kLoggedDecodeErrors ? " (further ones are only counted)" : "");
        return false;
    }
    // Types a later publisher adds (client messages) are not ours to guess at.
    if (m.unknown) stats_.unknown_records.add(m.unknown);
    if (m.version == protocol::kBusVersion2) {
        const std::uint64_t epoch = live ? m.epoch : reload_epoch_;
        if (epoch != 0 && epoch != epoch_ && !enter_epoch(epoch, out, stop)) {
            stats_.duplicates.add();
            return true;
        }
    }
    if (m.client_messages) ingest_client_messages(subject, m, live);
    if (m.tickers + m.books + m.trades == 0) return m.version == protocol::kBusVersion2;
    const std::int64_t now = live ? runtime::realtime_ns() : 0;
    // Consecutive records of one subject (a per-topic message, always) share the lookups.
    std::string_view last_subject;
    bool subject_ok = false;
    std::string_view topic, channel;
    std::uint64_t* last = nullptr;  // the topic's last forwarded seq (tickers, trades), looked up once
    protocol::MarketUpdate u;
    protocol::for_each_record(m, [&](std::string_view group_subject, protocol::BusRecordType type, std::string_view body) {
        const std::string_view s = group_subject.empty() ? subject : group_subject;
        if (s.data() != last_subject.data() || s.size() != last_subject.size()) {
            last_subject = s;
            last = nullptr;
            // A grouped record is filtered here as nats-server filters the per-topic subjects,
            // whatever subscription brought it: --nats-subjects means the same either way.
            subject_ok = group_subject.empty() || protocol::nats_subject_matches(options_.subjects, s);
            topic = protocol::topic_from_subject(s);
            channel = protocol::topic_channel(topic);
        }
        if (!subject_ok) {
            stats_.filtered.add();
            return;
        }
        if (type == protocol::BusRecordType::book_delta) return ingest_book(topic, channel, body, live, now, out, stop);
        if (last == nullptr) {
            auto it = last_seq_.find(topic);
            if (it == last_seq_.end()) {
                if (last_seq_.size() >= options_.max_topics) {
                    stats_.topic_limit_drops.add();
                    return;
                }
                it = last_seq_.emplace(std::string(topic), 0).first;
            }
            last = &it->second;
        }
        if (type == protocol::BusRecordType::ticker)
            protocol::detail::decode_checked_ticker_body(body.data(), u);
        else
            protocol::decode_trade_body(body, u);
        if (u.seq <= *last) {
            stats_.duplicates.add();
            return;
        }
        *last = u.seq;
        // A trade has no latest value: one read from the store happened before this gateway
        // listened, so without a history it only tells where the trades' seq stands; with one it
        // goes into the history (and to subscribers who missed it during an outage).
        if (type == protocol::BusRecordType::trade && !live && options_.history == 0) return;
        u.set_topic(topic);
        u.feed = feed_index_;
        if (live) stats_.latency.observe_ns(now - u.ts_ns);
        out.publish(u, stop);
    });
    return m.version == protocol::kBusVersion2;
}

bool NatsFeed::enter_epoch(std::uint64_t epoch, UpdateChannel& out, const std::stop_token& stop) {
    if (std::find(retired_epochs_.begin(), retired_epochs_.end(), epoch) != retired_epochs_.end()) return false;
    if (epoch_ != 0) {
        // The publisher started its seqs over: what the checks hold is the old space's.
        for (auto& [topic, seq] : last_seq_) seq = 0;
        for (auto& [room, seq] : message_seq_) seq = 0;
        books_.reset_all();
        stats_.books_waiting.store(books_.waiting(), std::memory_order_relaxed);
        // A few are enough: epochs are random, and an old one's messages only linger briefly
        // (a live backlog taken after a reload that brought the new one).
        if (retired_epochs_.size() == 8) retired_epochs_.erase(retired_epochs_.begin());
        retired_epochs_.push_back(epoch_);
        TG_LOG(warn, "feed %s: publisher epoch %016llx (was %016llx): its seqs start over", name_.c_str(),
               static_cast<unsigned long long>(epoch), static_cast<unsigned long long>(epoch_));
    } else {
        TG_LOG(info, "feed %s: publisher epoch %016llx", name_.c_str(), static_cast<unsigned long long>(epoch));
    }
    epoch_ = epoch;
    // Ahead of every update of the epoch in the ring: the engine switches the feed's topics there.
    protocol::MarketUpdate e;
    e.kind = protocol::UpdateKind::epoch;
    e.seq = epoch;
    e.feed = feed_index_;
    out.publish(e, stop);
    return true;
}

}  // namespace tickgate::feeds

namespace tickgate::feeds {

void NatsFeed::ingest_book(std::string_view topic, std::string_view channel, std::string_view body, bool live,
                           std::int64_t now, UpdateChannel& out, const std::stop_token& stop) {
    // Deltas on <prefix>.book.<SYM>, keyframes of that book on <prefix>.bookkf.<SYM>.
    const bool keyframe = channel == "bookkf";
    if (!keyframe && channel != "book") {
        stats_.decode_errors.add();
        if (stats_.decode_errors.get() <= kLoggedDecodeErrors)
            TG_LOG(warn, "feed %s: skipped a book record on %.*s: books travel on <prefix>.book.<SYM>", name_.c_str(),
                   static_cast<int>(topic.size()), topic.data());
        return;
    }
    std::string book_topic;
    if (keyframe) {
        book_topic = "book.";
        book_topic += protocol::topic_symbol(topic);
        topic = book_topic;
    }
    const protocol::BusBookRecord r(body);
    fragments_.clear();
    const auto outcome = keyframe ? books_.on_keyframe(topic, r, fragments_) : books_.on_delta(topic, r, fragments_);
    using Outcome = BusBookAssembler::Outcome;
    switch (outcome) {
    case Outcome::duplicate: stats_.duplicates.add(); break;
    case Outcome::over_limit: stats_.topic_limit_drops.add(); break;
    case Outcome::gap:
        stats_.book_gaps.add();
        if (stats_.book_gaps.get() <= kLoggedDecodeErrors)
            TG_LOG(warn, "feed %s: %.*s: seq %llu after %llu; not served on until a keyframe comes%s", name_.c_str(),
                   static_cast<int>(topic.size()), topic.data(), static_cast<unsigned long long>(r.seq()),
                   static_cast<unsigned long long>(books_.last_seq(topic)),
                   stats_.book_gaps.get() == kLoggedDecodeErrors ? " (further gaps are only counted)" : "");
        break;
    case Outcome::became_ready: stats_.book_bases.add(); break;
    default: break;
    }
    stats_.books_waiting.store(books_.waiting(), std::memory_order_relaxed);
    // A keyframe's ts is its book's last change's, up to a second old: not a latency.
    if (live && !keyframe && !fragments_.empty()) stats_.latency.observe_ns(now - r.change().ts_ns);
    for (auto& f : fragments_) {
        f.feed = feed_index_;
        out.publish(f, stop);
    }
}

}  // namespace tickgate::feeds

namespace tickgate::feeds {

void NatsFeed::ingest_client_messages(std::string_view subject, const protocol::BusMessage& m, bool live) {
    // One read from the store at (re)connect was published before this gateway listened, as a
    // trade there: without a history never delivered. Nor does it then move the room's last seq:
    // a message published while the store is read is both there and in the live backlog, and the
    // live copy must go out. With a history it is delivered (into the history, and to subscribers
    // who missed it during an outage), and its live copy is the duplicate. Live messages come in
    // the publisher's order, so the seq rule alone keeps them in order and drops the second copy
    // of what both subscriptions bring (at a switch to batches).
    if (!live && options_.history == 0) return;
    protocol::for_each_client_message(m, [&](std::string_view group_subject, const protocol::BusClientMessage& c) {
        const std::string_view s = group_subject.empty() ? subject : group_subject;
        if (!group_subject.empty() && !protocol::nats_subject_matches(options_.subjects, s)) {
            stats_.filtered.add();
            return;
        }
        const std::string_view topic = protocol::published_topic_from_subject(s);
        auto it = message_seq_.find(topic);
        if (it == message_seq_.end()) {
            if (message_seq_.size() >= options_.max_topics) {
                stats_.topic_limit_drops.add();
                return;
            }
            it = message_seq_.emplace(std::string(topic), 0).first;
        }
        if (c.seq <= it->second) {
            stats_.duplicates.add();
            return;
        }
        it->second = c.seq;
        if (!message_sink_) return;
        protocol::PublishedMessage pm;
        pm.topic.assign(topic);
        pm.from.assign(c.from);
        pm.data.assign(c.data);
        pm.seq = c.seq;
        pm.ts_ns = c.ts_ns;
        pm.epoch = epoch_;
        stats_.client_messages.add();
        message_sink_(std::move(pm));
    });
}

void NatsFeed::forward_publish(protocol::PublishedMessage message, std::function<void(PublishOutcome)> done) {
    // What the request form cannot carry is refused here; the rest is the publisher's to check.
    if (message.topic.size() > 255 || message.from.size() > 0xffff) {
        PublishOutcome outcome;
        outcome.error = "topic or sender name too long to send";
        std::unique_lock lock(bus_mutex_);
        if (!bus_io_) {
            lock.unlock();
            return done(std::move(outcome));
        }
        asio::post(*bus_io_, [this, done = std::move(done), outcome = std::move(outcome)]() mutable {
            stats_.publish_errors.add();
            done(std::move(outcome));
        });
        return;
    }
    std::string request;
    protocol::append_publish_request(message.topic, message.from, message.data, request);
    std::unique_lock lock(bus_mutex_);
    if (!bus_io_) {
        lock.unlock();
        PublishOutcome outcome;
        outcome.error = bus_prefix_.empty() ? "no publisher subject: --nats-subjects names no prefix"
                                            : "the NATS feed is not running";
        return done(std::move(outcome));
    }
    asio::post(*bus_io_, [this, request = std::move(request), done = std::move(done)]() mutable {
        start_publish(std::move(request), std::move(done));
    });
}

void NatsFeed::start_publish(std::string request, std::function<void(PublishOutcome)> done) {
    const auto fail = [&](std::string why) {
        stats_.publish_errors.add();
        PublishOutcome outcome;
        outcome.error = std::move(why);
        done(std::move(outcome));
    };
    if (!link_ || !link_->connected()) return fail("NATS disconnected");
    const std::uint64_t id = ++next_request_;
    const std::string reply = inbox_ + "." + std::to_string(id);
    const natsStatus s = natsConnection_PublishRequest(link_->get(), publish_subject_.c_str(), reply.c_str(),
                                                       request.data(), static_cast<int>(request.size()));
    if (s != NATS_OK) return fail(std::string("NATS: ") + natsStatus_GetText(s));
    auto pending = std::make_unique<PendingPublish>(*loop_io_);
    pending->done = std::move(done);
    pending->timeout.expires_after(kPublishTimeout);
    pending->timeout.async_wait([this, id](const boost::system::error_code& ec) {
        if (ec) return;  // answered, or failed, first: the entry and its timer are gone
        PublishOutcome outcome;
        outcome.error = "no reply from the publisher on " + publish_subject_ + " within " +
                        std::to_string(std::chrono::milliseconds(kPublishTimeout).count()) + " ms";
        finish_publish(id, std::move(outcome));
    });
    pending_.emplace(id, std::move(pending));
}

void NatsFeed::finish_publish(std::uint64_t id, PublishOutcome outcome) {
    const auto it = pending_.find(id);
    if (it == pending_.end()) return;  // a late or a foreign reply: its request was answered already
    // Out of the table before `done` runs, so whatever done does, it runs once.
    std::unique_ptr<PendingPublish> p = std::move(it->second);
    pending_.erase(it);
    p->timeout.cancel();
    if (!outcome.error.empty()) stats_.publish_errors.add();
    p->done(std::move(outcome));
}

void NatsFeed::fail_pending_publishes(const std::string& why) {
    std::vector<std::uint64_t> ids;
    ids.reserve(pending_.size());
    for (const auto& [id, p] : pending_) ids.push_back(id);
    for (const std::uint64_t id : ids) {
        PublishOutcome outcome;
        outcome.error = why;
        finish_publish(id, std::move(outcome));
    }
}

void NatsFeed::on_reply(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    auto* self = static_cast<NatsFeed*>(closure);
    // <inbox>.<id>: the id is the request's.
    const std::string_view subject = natsMsg_GetSubject(msg);
    std::uint64_t id = 0;
    const std::string_view token = subject.substr(subject.rfind('.') + 1);
    const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), id);
    PublishOutcome outcome;
    if (natsMsg_IsNoResponders(msg)) {
        outcome.error = "no publisher serves " + self->publish_subject_ + " (is tickgate-feed running?)";
    } else {
        const std::string_view data(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
        if (!protocol::decode_publish_reply(data, outcome.seq, outcome.error)) outcome.seq = 0;
    }
    natsMsg_Destroy(msg);
    if (ec != std::errc() || end != token.data() + token.size()) return;
    // To the loop, which owns the requests in flight; once the feed stops there is none left.
    std::lock_guard lock(self->bus_mutex_);
    if (self->bus_io_)
        asio::post(*self->bus_io_, [self, id, outcome = std::move(outcome)]() mutable {
            self->finish_publish(id, std::move(outcome));
        });
}

bool NatsFeed::drain_announcements(natsSubscription* sub) {
    int queued = 0;
    if (natsSubscription_GetPending(sub, &queued, nullptr) != NATS_OK) return false;
    for (int i = 0; i < queued; ++i) {
        natsMsg* msg = nullptr;
        if (natsSubscription_NextMsg(&msg, sub, 0) != NATS_OK) break;
        const std::string_view data(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
        std::uint64_t origin = 0;
        protocol::Announcement a;
        const auto e = protocol::decode_bus_announcement(data, origin, a);
        natsMsg_Destroy(msg);
        if (e != protocol::AnnouncementError::none) {
            stats_.decode_errors.add();
            if (stats_.decode_errors.get() <= kLoggedDecodeErrors)
                TG_LOG(warn, "feed %s: skipped a message on %s: %s", name_.c_str(), announce_subject_.c_str(),
                       protocol::announcement_error_name(e));
            continue;
        }
        // NATS hands a connection's own messages back to it: this gateway's clients had it already.
        if (origin == origin_ || !announcement_sink_) continue;
        stats_.announcements.add();
        announcement_sink_(std::move(a));
    }
    return queued > 0;
}

void NatsFeed::forward_announcement(const protocol::Announcement& announcement) {
    std::string message;
    protocol::append_bus_announcement(announcement, origin_, message);
    std::lock_guard lock(bus_mutex_);
    // Not running, or no prefix: there is no other gateway to tell.
    if (!bus_nc_) return;
    // Thread-safe in nats.c; under the lock so the connection cannot close meanwhile. While NATS is
    // reconnecting the library buffers it (and sends it after), past its buffer it fails.
    const natsStatus s = natsConnection_Publish(bus_nc_, announce_subject_.c_str(), message.data(),
                                                static_cast<int>(message.size()));
    if (s != NATS_OK)
        TG_LOG(warn, "feed %s: announcement '%s' not sent to other gateways: %s", name_.c_str(),
               announcement.event.c_str(), natsStatus_GetText(s));
}

}  // namespace tickgate::feeds
