// The NATS feed as the gateway's MessageBus (issue 16), against a real nats-server with JetStream
// and a real tickgate-feed: two feeds stand for two gateways. Publishes forwarded from both come
// back as one chain of seqs, and reach both message sinks once each, in seq order; a restarted
// publisher continues the chain (and every market topic's seq) from JetStream; a publisher that is
// gone, silent, or a NATS that is down end in an error for `done`, once; malformed requests get an
// error reply and publish nothing; announcements reach every other feed's sink, never their own.
#include "feeds/nats_feed.hpp"

#include <cstdio>
#include <gtest/gtest.h>
#include <nats/nats.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "feeds/update_channel.hpp"
#include "feeds/upstream_stats.hpp"
#include "protocol/bus_publish.hpp"
#include "protocol/bus_update.hpp"
#include "tests/feeds/nats_processes.hpp"

namespace asio = boost::asio;
namespace tp = tickgate::protocol;
using namespace std::chrono_literals;
using tickgate::feeds::MessageBus;
using tickgate::feeds::NatsFeed;
using tickgate::feeds::testing::FeedPublisher;
using tickgate::feeds::testing::NatsServer;

namespace {

template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

struct SeenUpdate {
    std::string topic;
    tp::UpdateKind kind;
    std::uint64_t seq;
};

// One gateway's NATS feed: "worker 0" (an io_context of the test's, which drains the ring every
// 2 ms as the broadcast engine would), the feed reading on it (reader "worker") or on a thread of
// its own ("thread"), and everything that reaches the ring and the two sinks.
class Gateway {
public:
    Gateway(const NatsServer& nats, const char* reader, std::uint32_t history = 0) {
        tickgate::feeds::NatsOptions options;
        options.reader = reader;
        options.history = history;
        std::string error;
        feed_ = NatsFeed::create(nats.servers(), options, 0, error);
        EXPECT_TRUE(feed_) << error;
        if (options.reader == std::string("worker")) feed_->offer_event_loop(io_);
        MessageBus* bus = feed_->message_bus();
        EXPECT_EQ(bus, feed_.get());
        bus->set_message_sink([this](tp::PublishedMessage m) {
            std::lock_guard lock(mutex_);
            sink_threads_.insert(std::this_thread::get_id());
            messages_.push_back(std::move(m));
        });
        bus->set_announcement_sink([this](tp::Announcement a) {
            std::lock_guard lock(mutex_);
            announcements_.push_back(std::move(a));
        });
        asio::post(io_, [this] { drain(); });
        loop_ = std::thread([this] { io_.run(); });
        loop_id_ = loop_.get_id();
        runner_ = std::jthread([this](std::stop_token stop) { feed_->run(stop, channel_); });
    }
    ~Gateway() {
        runner_.request_stop();
        runner_.join();  // a hosted feed's teardown runs on the loop, which still runs
        asio::post(io_, [this] { drain_timer_.cancel(); });
        work_.reset();
        // The loop ends by itself once the feed has let go of its sockets. Rarely, when NATS went
        // away during a reconnect, a socket watch outlives the feed (seen 1 run in ~20 under load;
        // the gateway stops worker 0's loop at shutdown, so it never waits on it): bounded here.
        for (int i = 0; i < 200 && !io_.stopped(); ++i) std::this_thread::sleep_for(10ms);
        if (!io_.stopped()) {
            std::fprintf(stderr, "note: the hosted loop still had work 2 s after the feed stopped\n");
            io_.stop();
        }
        loop_.join();
    }

    NatsFeed& feed() { return *feed_; }
    MessageBus& bus() { return *feed_; }
    const tickgate::feeds::UpstreamStats& stats() const { return *feed_->upstream_stats(); }
    std::thread::id loop_thread() const { return loop_id_; }

    /// Connected and reading live: a topic's second ticker has come through the ring (the first
    /// may be JetStream's latest value; the feed's subscriptions, made before, are at the server).
    bool wait_reading() {
        return wait_until([&] {
            std::lock_guard lock(mutex_);
            std::set<std::string> seen;
            for (const auto& u : updates_)
                if (u.kind == tp::UpdateKind::ticker && !seen.insert(u.topic).second) return true;
            return false;
        }, 15s);
    }

    std::vector<tp::PublishedMessage> messages() {
        std::lock_guard lock(mutex_);
        return messages_;
    }
    std::vector<tp::Announcement> announcements() {
        std::lock_guard lock(mutex_);
        return announcements_;
    }
    std::vector<SeenUpdate> updates() {
        std::lock_guard lock(mutex_);
        return updates_;
    }
    /// The epoch records that reached the ring: the epoch, and how many updates came before it.
    struct SeenEpoch {
        std::uint64_t epoch;
        std::size_t at;
    };
    std::vector<SeenEpoch> epochs() {
        std::lock_guard lock(mutex_);
        return epochs_;
    }
    std::set<std::thread::id> sink_threads() {
        std::lock_guard lock(mutex_);
        return sink_threads_;
    }

    /// forward_publish, waiting for `done` (and counting its calls for the test to check once).
    MessageBus::PublishOutcome publish(const std::string& topic, const std::string& from, const std::string& data,
                                       std::thread::id* done_thread = nullptr) {
        tp::PublishedMessage m;
        m.topic = topic;
        m.from = from;
        m.data = data;
        auto promise = std::make_shared<std::promise<MessageBus::PublishOutcome>>();
        auto future = promise->get_future();
        bus().forward_publish(std::move(m), [this, promise, done_thread](MessageBus::PublishOutcome o) {
            dones_.fetch_add(1);
            if (done_thread) *done_thread = std::this_thread::get_id();
            promise->set_value(std::move(o));
        });
        if (future.wait_for(10s) != std::future_status::ready) {
            MessageBus::PublishOutcome never;
            never.error = "done never ran";
            return never;
        }
        return future.get();
    }
    int dones() const { return dones_.load(); }

private:
    void drain() {
        std::array<tp::MarketUpdate, 256> batch;
        const std::size_t n = channel_.try_consume(batch);
        if (n) {
            std::lock_guard lock(mutex_);
            for (std::size_t i = 0; i < n; ++i) {
                // An epoch record is no topic's update: kept apart, with where it stood among them.
                if (batch[i].kind == tp::UpdateKind::epoch) {
                    epochs_.push_back({batch[i].seq, updates_.size()});
                    continue;
                }
                updates_.push_back({std::string(batch[i].topic()), batch[i].kind, batch[i].seq});
            }
        }
        drain_timer_.expires_after(2ms);
        drain_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (!ec) drain();
        });
    }

    tickgate::feeds::UpdateChannel channel_{1 << 14};
    asio::io_context io_{1};
    asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
    asio::steady_timer drain_timer_{io_};
    std::unique_ptr<NatsFeed> feed_;
    std::thread loop_;
    std::thread::id loop_id_;
    std::jthread runner_;
    std::mutex mutex_;
    std::vector<tp::PublishedMessage> messages_;
    std::vector<tp::Announcement> announcements_;
    std::vector<SeenUpdate> updates_;
    std::vector<SeenEpoch> epochs_;
    std::set<std::thread::id> sink_threads_;
    std::atomic<int> dones_{0};
};

// A plain NATS client of the test's own (nats.c), for what no gateway would send.
class RawClient {
public:
    explicit RawClient(const NatsServer& nats) {
        const std::string url = "nats://" + nats.servers();
        EXPECT_EQ(natsConnection_ConnectTo(&nc_, url.c_str()), NATS_OK);
    }
    ~RawClient() {
        for (natsSubscription* s : subs_) natsSubscription_Destroy(s);
        natsConnection_Destroy(nc_);
    }
    natsSubscription* subscribe(const std::string& subject) {
        natsSubscription* sub = nullptr;
        EXPECT_EQ(natsConnection_SubscribeSync(&sub, nc_, subject.c_str()), NATS_OK);
        EXPECT_EQ(natsConnection_Flush(nc_), NATS_OK);
        subs_.push_back(sub);
        return sub;
    }
    std::string request(const std::string& subject, const std::string& data) {
        natsMsg* reply = nullptr;
        const natsStatus s = natsConnection_Request(&reply, nc_, subject.c_str(), data.data(), static_cast<int>(data.size()), 5000);
        if (s != NATS_OK) return std::string("request failed: ") + natsStatus_GetText(s);
        std::string text(natsMsg_GetData(reply), static_cast<std::size_t>(natsMsg_GetDataLength(reply)));
        natsMsg_Destroy(reply);
        return text;
    }
    void publish(const std::string& subject, const std::string& data) {
        EXPECT_EQ(natsConnection_Publish(nc_, subject.c_str(), data.data(), static_cast<int>(data.size())), NATS_OK);
        EXPECT_EQ(natsConnection_Flush(nc_), NATS_OK);
    }
    /// The JetStream stream's messages per subject (-1: no such stream).
    std::int64_t stream_per_subject(const std::string& stream) {
        jsCtx* js = nullptr;
        jsStreamInfo* si = nullptr;
        std::int64_t n = -1;
        if (natsConnection_JetStream(&js, nc_, nullptr) == NATS_OK &&
            js_GetStreamInfo(&si, js, stream.c_str(), nullptr, nullptr) == NATS_OK)
            n = si->Config->MaxMsgsPerSubject;
        if (si) jsStreamInfo_Destroy(si);
        if (js) jsCtx_Destroy(js);
        return n;
    }
    /// What an operator does to start the bus's seqs over: the stream goes, with every seq in it.
    bool delete_stream(const std::string& stream) {
        jsCtx* js = nullptr;
        bool ok = natsConnection_JetStream(&js, nc_, nullptr) == NATS_OK &&
                  js_DeleteStream(js, stream.c_str(), nullptr, nullptr) == NATS_OK;
        if (js) jsCtx_Destroy(js);
        return ok;
    }

private:
    natsConnection* nc_ = nullptr;
    std::vector<natsSubscription*> subs_;
};

std::vector<std::uint64_t> seqs_of(const std::vector<tp::PublishedMessage>& ms) {
    std::vector<std::uint64_t> out;
    for (const auto& m : ms) out.push_back(m.seq);
    return out;
}

std::vector<std::uint64_t> one_to(std::uint64_t n, std::uint64_t from = 1) {
    std::vector<std::uint64_t> out;
    for (std::uint64_t s = from; s <= n; ++s) out.push_back(s);
    return out;
}

}  // namespace

TEST(NatsMessageBus, PublishesFromTwoGatewaysBecomeOneChainThatBothDeliverOnceInOrder) {
    NatsServer nats(true);
    ASSERT_TRUE(nats.wait_ready()) << "nats-server (Debian's, /usr/sbin) did not start";
    // Batches too: the feeds read the live subject, where each client message comes as a batch
    // of its own, beside the per-topic subject both read until the first batch.
    FeedPublisher publisher(nats, {"--bus-version", "2", "--live-batches", "--symbols", "2", "--rate", "50"});
    ASSERT_TRUE(publisher.wait_serving()) << publisher.log();
    Gateway a(nats, "worker"), b(nats, "thread");
    ASSERT_TRUE(a.wait_reading() && b.wait_reading()) << "both feeds read the publisher's tickers";
    ASSERT_TRUE(wait_until([&] { return a.stats().batched.load() && b.stats().batched.load(); }, 5s))
        << "both feeds switched to the batches";

    // 60 publishes from each gateway at once, each from its own thread.
    constexpr int kEach = 60;
    struct Sent {
        std::string from, data;
        MessageBus::PublishOutcome outcome;
        std::thread::id done_thread;
    };
    std::vector<Sent> sent_a(kEach), sent_b(kEach);
    const auto send_all = [](Gateway& g, std::vector<Sent>& sent, const char* from) {
        for (int i = 0; i < kEach; ++i) {
            sent[i].from = from;
            sent[i].data = R"({"n":)" + std::to_string(i) + R"(, "from gateway":")" + from + "\"}";
            sent[i].outcome = g.publish("chat.lobby", sent[i].from, sent[i].data, &sent[i].done_thread);
        }
    };
    std::thread ta([&] { send_all(a, sent_a, "alice"); });
    std::thread tb([&] { send_all(b, sent_b, "bob"); });
    ta.join();
    tb.join();

    std::map<std::uint64_t, const Sent*> by_seq;
    for (const auto* sent : {&sent_a, &sent_b})
        for (const auto& s : *sent) {
            ASSERT_EQ(s.outcome.error, "") << s.data;
            EXPECT_TRUE(by_seq.emplace(s.outcome.seq, &s).second) << "seq " << s.outcome.seq << " given twice";
        }
    ASSERT_EQ(by_seq.size(), 2u * kEach);
    EXPECT_EQ(by_seq.begin()->first, 1u);
    EXPECT_EQ(by_seq.rbegin()->first, 2u * kEach) << "one chain 1..120, no seq skipped";
    for (const auto& s : sent_a) EXPECT_EQ(s.done_thread, a.loop_thread()) << "done runs on the loop the feed reads on";
    EXPECT_EQ(a.dones(), kEach);
    EXPECT_EQ(b.dones(), kEach);

    for (Gateway* g : {&a, &b}) {
        ASSERT_TRUE(wait_until([&] { return g->messages().size() >= 2u * kEach; }, 10s))
            << "got " << g->messages().size() << " of " << 2 * kEach;
        const auto got = g->messages();
        ASSERT_EQ(seqs_of(got), one_to(2 * kEach)) << "every message once, in seq order";
        std::int64_t last_ts = 0;
        for (const auto& m : got) {
            const Sent& s = *by_seq.at(m.seq);
            EXPECT_EQ(m.topic, "chat.lobby");
            EXPECT_EQ(m.from, s.from);
            EXPECT_EQ(m.data, s.data) << "the data byte for byte, as sent";
            EXPECT_GE(m.ts_ns, last_ts) << "the publisher's ts, in seq order";
            last_ts = m.ts_ns;
        }
        EXPECT_EQ(g->stats().client_messages.get(), 2u * kEach);
    }
    EXPECT_EQ(a.sink_threads(), std::set<std::thread::id>{a.loop_thread()}) << "the sink runs on the feed's loop";
    // Nothing more comes: no second copy from the per-topic subject or the batch.
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(a.messages().size(), 2u * kEach);
    EXPECT_EQ(b.messages().size(), 2u * kEach);
    const std::string metrics = tickgate::feeds::testing::http_get_metrics(publisher.metrics_port());
    EXPECT_EQ(tickgate::feeds::testing::metric_value(metrics, "tickgate_feed_client_messages_total"), 2 * kEach);
    EXPECT_EQ(tickgate::feeds::testing::metric_value(metrics, "tickgate_feed_rooms"), 1);
}

TEST(NatsMessageBus, ARestartedPublisherContinuesTheRoomsSeqAndEveryMarketTopicsFromJetStream) {
    NatsServer nats(true);
    ASSERT_TRUE(nats.wait_ready());
    // Everything on the wire, as published (a gateway would drop what repeats an earlier seq).
    RawClient raw(nats);
    natsSubscription* wire = raw.subscribe("md.>");
    FeedPublisher publisher(nats, {"--bus-version", "2", "--symbols", "2", "--rate", "20", "--trade-rate", "40"});
    ASSERT_TRUE(publisher.wait_serving()) << publisher.log();
    Gateway a(nats, "thread"), b(nats, "worker");
    ASSERT_TRUE(a.wait_reading() && b.wait_reading());
    for (int i = 1; i <= 5; ++i) ASSERT_EQ(a.publish("chat.lobby", "alice", std::to_string(i)).seq, static_cast<std::uint64_t>(i));
    ASSERT_EQ(b.publish("support.room-7", "bob", "\"other room\"").seq, 1u) << "each room has a seq of its own";
    // Enough trades that a publisher numbering them from 1 again would stay below for seconds.
    std::this_thread::sleep_for(1500ms);

    ASSERT_EQ(publisher.stop(), 0) << publisher.log();
    std::map<std::string, std::uint64_t> last_before;
    const std::size_t seen_before = b.updates().size();
    for (const auto& u : b.updates()) last_before[u.topic] = u.seq;
    ASSERT_GE(last_before.size(), 4u) << "2 tickers and 2 trades";
    const std::uint64_t duplicates_before = b.stats().duplicates.get();
    publisher.start();
    ASSERT_TRUE(publisher.wait_serving()) << publisher.log();

    for (int i = 6; i <= 10; ++i) ASSERT_EQ(b.publish("chat.lobby", "bob", std::to_string(i)).seq, static_cast<std::uint64_t>(i));
    ASSERT_EQ(a.publish("support.room-7", "alice", "2").seq, 2u);
    for (Gateway* g : {&a, &b}) {
        ASSERT_TRUE(wait_until([&] { return g->messages().size() >= 12; }, 10s)) << g->messages().size();
        std::vector<std::uint64_t> lobby;
        for (const auto& m : g->messages())
            if (m.topic == "chat.lobby") lobby.push_back(m.seq);
        EXPECT_EQ(lobby, one_to(10)) << "one chain across the restart";
    }
    // Every market topic goes on from where it stood, for trades as for tickers: on the wire each
    // topic's seq rises by one from message to message across the restart, and the gateway, which
    // would drop a repeated seq as a duplicate, drops none and sees the next seq first.
    std::this_thread::sleep_for(500ms);  // trades of both symbols after the restart
    std::map<std::string, std::vector<std::uint64_t>> published;
    int queued = 0;
    ASSERT_EQ(natsSubscription_GetPending(wire, &queued, nullptr), NATS_OK);
    natsMsg* msg = nullptr;
    for (int i = 0; i < queued && natsSubscription_NextMsg(&msg, wire, 1000) == NATS_OK; ++i, natsMsg_Destroy(msg)) {
        tp::BusMessage m;
        ASSERT_EQ(tp::parse_bus_message(std::string_view(natsMsg_GetData(msg), natsMsg_GetDataLength(msg)), m),
                  tp::BusDecodeError::none);
        const std::string topic(tp::topic_from_subject(natsMsg_GetSubject(msg)));
        tp::for_each_record(m, [&](std::string_view, tp::BusRecordType type, std::string_view body) {
            tp::MarketUpdate u;
            if (type == tp::BusRecordType::ticker) tp::detail::decode_checked_ticker_body(body.data(), u);
            if (type == tp::BusRecordType::trade) tp::decode_trade_body(body, u);
            published[topic].push_back(u.seq);
        });
    }
    ASSERT_GE(published.size(), 4u);
    for (const auto& [topic, seqs] : published) {
        EXPECT_EQ(seqs, one_to(seqs.back(), seqs.front())) << topic << ": one run of seqs across the restart";
        EXPECT_GT(seqs.back(), last_before[topic]) << topic << ": published after the restart too";
    }
    EXPECT_EQ(b.stats().duplicates.get(), duplicates_before);
    ASSERT_TRUE(wait_until([&] {
        std::set<std::string> topics;
        const auto all = b.updates();
        for (std::size_t i = seen_before; i < all.size(); ++i) topics.insert(all[i].topic);
        return topics.size() >= last_before.size();
    }, 5s)) << "every topic updated after the restart";
    const auto all = b.updates();
    std::map<std::string, std::uint64_t> first_after;
    for (std::size_t i = seen_before; i < all.size(); ++i) first_after.emplace(all[i].topic, all[i].seq);
    for (const auto& [topic, seq] : last_before) EXPECT_EQ(first_after[topic], seq + 1) << topic;
    // The seqs went on, so the epoch did: one epoch record per gateway, the first, and every
    // client message in it.
    for (Gateway* g : {&a, &b}) {
        const auto epochs = g->epochs();
        ASSERT_EQ(epochs.size(), 1u) << "a restart that continues the seqs keeps the epoch";
        EXPECT_EQ(epochs[0].at, 0u) << "the epoch record comes before any update";
        for (const auto& m : g->messages()) EXPECT_EQ(m.epoch, epochs[0].epoch) << m.topic << " " << m.seq;
    }
    EXPECT_NE(publisher.log().find("(continued from the stream)"), std::string::npos) << publisher.log();
}

// The epoch the publisher logged, from its "epoch <16 hex> (...)" line, the last one (0: none).
std::uint64_t logged_epoch(const std::string& log) {
    std::uint64_t epoch = 0;
    for (std::size_t at = log.find("epoch "); at != std::string::npos; at = log.find("epoch ", at + 1)) {
        const std::string hex = log.substr(at + 6, 16);
        if (hex.size() == 16 && hex.find_first_not_of("0123456789abcdef") == std::string::npos &&
            log.compare(at + 22, 2, " (") == 0)
            epoch = std::stoull(hex, nullptr, 16);
    }
    return epoch;
}

TEST(NatsMessageBus, APublisherThatStartsItsSeqsOverBringsANewEpochAndTheGatewayTakesItsSeqsAgain) {
    NatsServer nats(true);
    ASSERT_TRUE(nats.wait_ready());
    RawClient raw(nats);
    const std::vector<std::string> flags = {"--bus-version", "2", "--symbols", "1", "--rate", "50",
                                            "--trade-rate", "50", "--book-rate", "50"};
    FeedPublisher publisher(nats, flags);
    ASSERT_TRUE(publisher.wait_serving()) << publisher.log();
    const std::uint64_t first_epoch = logged_epoch(publisher.log());
    ASSERT_NE(first_epoch, 0u) << publisher.log();
    Gateway g(nats, "worker");
    ASSERT_TRUE(g.wait_reading());
    for (int i = 1; i <= 3; ++i) ASSERT_EQ(g.publish("chat.lobby", "alice", std::to_string(i)).seq, static_cast<std::uint64_t>(i));
    std::this_thread::sleep_for(1500ms);  // seqs well above where a new run starts
    ASSERT_EQ(publisher.stop(), 0) << publisher.log();
    std::map<std::string, std::uint64_t> last_before;
    for (const auto& u : g.updates()) last_before[u.topic] = std::max(last_before[u.topic], u.seq);
    ASSERT_GT(last_before["ticker.BTC-USD"], 20u);
    ASSERT_GT(last_before["trade.BTC-USD"], 20u);
    ASSERT_GT(last_before["book.BTC-USD"], 20u);

    // Nothing to continue from: the publisher starts at seq 1 in an epoch of its own.
    ASSERT_TRUE(raw.delete_stream("TICKGATE_md"));
    publisher.start();
    ASSERT_TRUE(publisher.wait_serving()) << publisher.log();
    const std::uint64_t second_epoch = logged_epoch(publisher.log());
    ASSERT_NE(second_epoch, 0u);
    ASSERT_NE(second_epoch, first_epoch);
    EXPECT_NE(publisher.log().find("(new: no stream to continue from)"), std::string::npos) << publisher.log();
    for (int i = 1; i <= 3; ++i) ASSERT_EQ(g.publish("chat.lobby", "bob", std::to_string(i)).seq, static_cast<std::uint64_t>(i));

    ASSERT_TRUE(wait_until([&] { return g.epochs().size() == 2 && g.messages().size() >= 6; }, 10s))
        << g.epochs().size() << " epochs, " << g.messages().size() << " messages";
    std::this_thread::sleep_for(1000ms);  // a keyframe's worth of the new run
    const auto epochs = g.epochs();
    ASSERT_EQ(epochs.size(), 2u);
    EXPECT_EQ(epochs[0].epoch, first_epoch);
    EXPECT_EQ(epochs[1].epoch, second_epoch);
    // After the record, every topic starts again from the new run's first seqs (the gateway drops
    // nothing as a duplicate of the old run), and rises from there.
    const auto all = g.updates();
    std::map<std::string, std::vector<std::uint64_t>> after;
    for (std::size_t i = epochs[1].at; i < all.size(); ++i)
        if (all[i].seq != 0) after[all[i].topic].push_back(all[i].seq);
    for (const char* topic : {"ticker.BTC-USD", "trade.BTC-USD", "book.BTC-USD"}) {
        const auto& seqs = after[topic];
        ASSERT_GE(seqs.size(), 10u) << topic;
        EXPECT_EQ(seqs.front(), 1u) << topic << ": the new run's first seq";
        EXPECT_LT(seqs.front(), last_before[topic]) << topic;
        for (std::size_t i = 1; i < seqs.size(); ++i)
            EXPECT_GE(seqs[i], seqs[i - 1]) << topic << " (a book change may take several fragments)";
    }
    // Rooms too: the new run's seqs 1..3 were delivered, in the new epoch.
    std::vector<std::uint64_t> lobby;
    for (const auto& m : g.messages())
        if (m.topic == "chat.lobby") {
            lobby.push_back(m.seq);
            EXPECT_EQ(m.epoch, lobby.size() <= 3 ? first_epoch : second_epoch) << m.seq;
        }
    EXPECT_EQ(lobby, (std::vector<std::uint64_t>{1, 2, 3, 1, 2, 3}));

    // A late message of the old epoch is from a seq space that is over: dropped, not a new change.
    const std::uint64_t duplicates = g.stats().duplicates.get();
    std::string stale(10, '\0');
    stale[0] = 0x54;
    stale[1] = 2;
    for (int i = 0; i < 8; ++i) stale[2 + i] = static_cast<char>((first_epoch >> (8 * i)) & 0xff);
    raw.publish("md.ticker.BTC-USD", stale);
    ASSERT_TRUE(wait_until([&] { return g.stats().duplicates.get() > duplicates; }, 5s));
    EXPECT_EQ(g.epochs().size(), 2u);
}

TEST(NatsMessageBus, WithAHistoryTheGatewayReadsTheLastMessagesOfEverySubjectFromJetStream) {
    NatsServer nats(true);
    ASSERT_TRUE(nats.wait_ready());
    RawClient raw(nats);
    FeedPublisher publisher(nats, {"--bus-version", "2", "--symbols", "1", "--rate", "40", "--trade-rate", "40",
                                   "--history", "50"});
    ASSERT_TRUE(publisher.wait_serving()) << publisher.log();
    EXPECT_EQ(raw.stream_per_subject("TICKGATE_md"), 50);
    Gateway a(nats, "worker");
    ASSERT_TRUE(a.wait_reading());
    for (int i = 1; i <= 5; ++i) ASSERT_EQ(a.publish("chat.lobby", "alice", std::to_string(i)).seq, static_cast<std::uint64_t>(i));
    std::this_thread::sleep_for(1500ms);  // some 60 tickers and trades, more than the history below

    std::map<std::string, std::uint64_t> a_last;
    for (const auto& u : a.updates()) a_last[u.topic] = u.seq;
    Gateway b(nats, "thread", 20), c(nats, "worker");
    ASSERT_TRUE(b.wait_reading() && c.wait_reading());
    ASSERT_TRUE(wait_until([&] { return b.messages().size() >= 5; }, 5s)) << b.messages().size();
    std::this_thread::sleep_for(300ms);
    for (const char* topic : {"ticker.BTC-USD", "trade.BTC-USD"}) {
        std::vector<std::uint64_t> seqs;
        for (const auto& u : b.updates())
            if (u.topic == topic) seqs.push_back(u.seq);
        ASSERT_FALSE(seqs.empty()) << topic;
        // The store's last 20 (of the 50 it keeps), then live: one unbroken run.
        EXPECT_EQ(seqs, one_to(seqs.back(), seqs.front())) << topic;
        // (How many of them were stored rather than live depends on how long b took to start.)
        EXPECT_LE(seqs.front(), a_last[topic]) << topic << ": messages from before b listened";
        EXPECT_GT(seqs.front(), 1u) << topic << ": no more than --history of them";
    }
    // The room's messages from before it listened, once each, in order.
    EXPECT_EQ(seqs_of(b.messages()), one_to(5));
    // Without a history: the latest ticker only, no trade or message from before.
    std::vector<std::uint64_t> c_trades, c_tickers;
    for (const auto& u : c.updates()) {
        if (u.topic == "trade.BTC-USD") c_trades.push_back(u.seq);
        if (u.topic == "ticker.BTC-USD") c_tickers.push_back(u.seq);
    }
    ASSERT_FALSE(c_tickers.empty());
    EXPECT_GE(c_tickers.front(), a_last["ticker.BTC-USD"]);
    ASSERT_FALSE(c_trades.empty());
    EXPECT_GT(c_trades.front(), a_last["trade.BTC-USD"]);
    EXPECT_TRUE(c.messages().empty());

    // A restart with another --history updates the stream that is there.
    ASSERT_EQ(publisher.stop(), 0);
    FeedPublisher again(nats, {"--bus-version", "2", "--symbols", "1", "--rate", "40", "--history", "5"});
    ASSERT_TRUE(again.wait_serving()) << again.log();
    EXPECT_EQ(raw.stream_per_subject("TICKGATE_md"), 5);
    EXPECT_NE(again.log().find("now keeps 5 messages per subject"), std::string::npos) << again.log();
}

TEST(NatsMessageBus, MalformedRequestsGetAnErrorReplyAndPublishNothing) {
    NatsServer nats(true);
    ASSERT_TRUE(nats.wait_ready());
    FeedPublisher publisher(nats, {"--bus-version", "2", "--symbols", "1", "--rate", "20"});
    ASSERT_TRUE(publisher.wait_serving()) << publisher.log();
    RawClient raw(nats);
    natsSubscription* everything = raw.subscribe("md.>");
    Gateway a(nats, "worker"), b(nats, "thread");
    ASSERT_TRUE(a.wait_reading() && b.wait_reading());

    struct Bad {
        std::string topic, from, data, error;
    };
    const std::vector<Bad> bad = {
        {"chat.Lobby", "alice", "1", "bad_topic"},
        {"chat.a-room-name-of-21-chr", "alice", "1", "bad_topic"},
        {"ticker.BTC-USD", "alice", R"({"bid":"1.00"})", "market_data_channel"},
        {"trade.BTC-USD", "alice", "1", "market_data_channel"},
        {"book.BTC-USD", "alice", "1", "market_data_channel"},
        {"chat.lobby", "alice", R"({"text":)", "bad_json"},
        {"chat.lobby", "alice", std::string(33, '[') + std::string(33, ']'), "bad_json"},
        {"chat.lobby", "alice", "\"" + std::string(5000, 'x') + "\"", "data_too_large"},
        {"chat.lobby", "", "1", "bad_from"},
    };
    for (const auto& r : bad) {
        const auto outcome = a.publish(r.topic, r.from, r.data);
        EXPECT_EQ(outcome.seq, 0u) << r.topic;
        EXPECT_TRUE(outcome.error.starts_with(r.error + ": ")) << r.topic << " -> " << outcome.error;
    }
    EXPECT_EQ(a.dones(), static_cast<int>(bad.size())) << "done once per request";
    EXPECT_EQ(a.stats().publish_errors.get(), bad.size());
    // Bytes that are no request at all, from any NATS client.
    EXPECT_EQ(raw.request("md-publish", "hello"), tp::publish_reply_error(tp::PublishRefusal::malformed));

    // Nothing was published: no record on any subject of the prefix but the tickers, no message in
    // either sink; the next good publish is the room's first.
    ASSERT_EQ(b.publish("chat.lobby", "bob", "\"first\"").seq, 1u);
    ASSERT_TRUE(wait_until([&] { return a.messages().size() == 1 && b.messages().size() == 1; }, 5s));
    EXPECT_EQ(a.messages()[0].data, "\"first\"");
    int client_records = 0, market_messages = 0;
    // What came up to now (the tickers keep coming: the count bounds the loop), a ticker at least.
    int queued = 0;
    ASSERT_TRUE(wait_until([&] {
        return natsSubscription_GetPending(everything, &queued, nullptr) == NATS_OK && queued >= 2;
    }, 5s));
    natsMsg* msg = nullptr;
    for (int i = 0; i < queued && natsSubscription_NextMsg(&msg, everything, 1000) == NATS_OK; ++i, natsMsg_Destroy(msg)) {
        const std::string subject = natsMsg_GetSubject(msg);
        tp::BusMessage m;
        ASSERT_EQ(tp::parse_bus_message(std::string_view(natsMsg_GetData(msg), natsMsg_GetDataLength(msg)), m),
                  tp::BusDecodeError::none);
        if (m.client_messages) {
            ++client_records;
            EXPECT_EQ(subject, "md.chat.lobby");
        } else {
            ++market_messages;
            EXPECT_EQ(subject, "md.ticker.BTC-USD") << "only the simulator's ticker";
        }
    }
    EXPECT_EQ(client_records, 1) << "the one good publish";
    EXPECT_GT(market_messages, 0);
    const std::string metrics = tickgate::feeds::testing::http_get_metrics(publisher.metrics_port());
    EXPECT_EQ(tickgate::feeds::testing::metric_value(metrics, "tickgate_feed_publish_refused_total"), bad.size() + 1);
    EXPECT_EQ(tickgate::feeds::testing::metric_value(metrics, "tickgate_feed_client_messages_total"), 1);
}

TEST(NatsMessageBus, NoPublisherASilentOneOrNatsDownEndInAnErrorOnce) {
    NatsServer nats(true);
    ASSERT_TRUE(nats.wait_ready());
    std::optional<FeedPublisher> publisher(std::in_place, nats, std::vector<std::string>{"--bus-version", "2", "--rate", "20"});
    ASSERT_TRUE(publisher->wait_serving()) << publisher->log();
    Gateway a(nats, "worker");
    ASSERT_TRUE(a.wait_reading());
    ASSERT_EQ(a.publish("chat.lobby", "alice", "1").error, "");

    // No publisher at all: nats-server says so at once (no responders).
    publisher.reset();
    auto t0 = std::chrono::steady_clock::now();
    auto outcome = a.publish("chat.lobby", "alice", "2");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
    EXPECT_NE(outcome.error.find("no publisher serves md-publish"), std::string::npos) << outcome.error;

    // Something takes the requests and never answers: the timeout.
    RawClient raw(nats);
    raw.subscribe("md-publish");
    t0 = std::chrono::steady_clock::now();
    outcome = a.publish("chat.lobby", "alice", "3");
    const auto waited = std::chrono::steady_clock::now() - t0;
    EXPECT_GE(waited, NatsFeed::kPublishTimeout - 100ms);
    EXPECT_LT(waited, NatsFeed::kPublishTimeout + 1s);
    EXPECT_NE(outcome.error.find("no reply from the publisher on md-publish within 2000 ms"), std::string::npos)
        << outcome.error;

    // A request in flight when NATS goes away fails then, not at its timeout; one made while NATS
    // is down fails at once.
    std::promise<MessageBus::PublishOutcome> in_flight;
    tp::PublishedMessage m;
    m.topic = "chat.lobby";
    m.from = "alice";
    m.data = "4";
    std::atomic<int> in_flight_dones{0};
    a.bus().forward_publish(m, [&](MessageBus::PublishOutcome o) {
        if (in_flight_dones.fetch_add(1) == 0) in_flight.set_value(std::move(o));
    });
    std::this_thread::sleep_for(200ms);
    t0 = std::chrono::steady_clock::now();
    nats.stop();
    auto future = in_flight.get_future();
    ASSERT_EQ(future.wait_for(NatsFeed::kPublishTimeout), std::future_status::ready);
    EXPECT_EQ(future.get().error, "NATS disconnected");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
    ASSERT_TRUE(wait_until([&] { return !a.stats().connected.load(); }, 5s));
    t0 = std::chrono::steady_clock::now();
    outcome = a.publish("chat.lobby", "alice", "5");
    EXPECT_EQ(outcome.error, "NATS disconnected");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);

    // Each done ran exactly once, late replies or timeouts included.
    std::this_thread::sleep_for(NatsFeed::kPublishTimeout + 300ms);
    EXPECT_EQ(in_flight_dones.load(), 1);
    EXPECT_EQ(a.dones(), 4);
    EXPECT_EQ(a.stats().publish_errors.get(), 4u);
}

TEST(NatsMessageBus, AnAnnouncementReachesEveryOtherGatewayAndNotItsOrigin) {
    NatsServer nats(true);
    ASSERT_TRUE(nats.wait_ready());
    FeedPublisher publisher(nats, {"--bus-version", "2", "--rate", "20"});
    ASSERT_TRUE(publisher.wait_serving()) << publisher.log();
    Gateway a(nats, "worker"), b(nats, "thread"), c(nats, "thread");
    ASSERT_TRUE(a.wait_reading() && b.wait_reading() && c.wait_reading());
    EXPECT_NE(a.feed().origin(), b.feed().origin());

    tp::Announcement from_a;
    from_a.event = "announcement";
    from_a.data = R"({"text":"maintenance at 18:00", "level":2})";
    from_a.ts_ns = 1764090000123456789;
    a.bus().forward_announcement(from_a);
    tp::Announcement from_b;
    from_b.event = "room_notice";
    from_b.data = "\"the lobby closes\"";
    from_b.topic = "chat.lobby";
    from_b.ts_ns = 42;
    b.bus().forward_announcement(from_b);
    // Bytes on the subject that are no announcement: counted, never handed on.
    RawClient raw(nats);
    const auto errors_before = c.stats().decode_errors.get();
    raw.publish("md-announce", "not an announcement");

    ASSERT_TRUE(wait_until([&] { return c.announcements().size() >= 2; }, 5s));
    ASSERT_TRUE(wait_until([&] { return a.announcements().size() >= 1 && b.announcements().size() >= 1; }, 5s));
    ASSERT_TRUE(wait_until([&] { return c.stats().decode_errors.get() > errors_before; }, 5s));
    std::this_thread::sleep_for(300ms);
    const auto at_a = a.announcements(), at_b = b.announcements(), at_c = c.announcements();
    ASSERT_EQ(at_a.size(), 1u) << "only b's: a's own came back from NATS and was dropped";
    ASSERT_EQ(at_b.size(), 1u) << "only a's";
    ASSERT_EQ(at_c.size(), 2u) << "both, and not the bytes that were none";
    EXPECT_EQ(at_a[0].event, "room_notice");
    EXPECT_EQ(at_a[0].topic, "chat.lobby");
    EXPECT_EQ(at_a[0].data, from_b.data);
    EXPECT_EQ(at_a[0].ts_ns, 42);
    EXPECT_EQ(at_b[0].event, "announcement");
    EXPECT_EQ(at_b[0].topic, "");
    EXPECT_EQ(at_b[0].data, from_a.data);
    EXPECT_EQ(at_b[0].ts_ns, from_a.ts_ns);
    EXPECT_EQ(c.stats().announcements.get(), 2u);
}

TEST(NatsMessageBus, TheBusPrefixIsReadFromTheSubjects) {
    EXPECT_EQ(NatsFeed::resolve_bus_prefix("md.>"), "md");
    EXPECT_EQ(NatsFeed::resolve_bus_prefix("venue1.md.>"), "venue1.md");
    EXPECT_EQ(NatsFeed::resolve_bus_prefix("md.ticker.*"), "md");
    EXPECT_EQ(NatsFeed::resolve_bus_prefix("md.*.BTC-USD"), "md");
    EXPECT_EQ(NatsFeed::resolve_bus_prefix("a.b.ticker.BTC-USD"), "a.b");
    for (const char* none : {">", "md", "ticker.BTC-USD", "*.ticker.BTC-USD", "md.*.>", ".>", "md..ticker.X"})
        EXPECT_EQ(NatsFeed::resolve_bus_prefix(none), "") << none;
}

TEST(NatsMessageBus, APublishBeforeTheFeedRunsFailsAtOnce) {
    tickgate::feeds::NatsOptions options;
    std::string error;
    auto feed = NatsFeed::create("127.0.0.1:1", options, 0, error);
    ASSERT_TRUE(feed) << error;
    int dones = 0;
    std::string why;
    feed->forward_publish(tp::PublishedMessage{"chat.lobby", "alice", "1"}, [&](MessageBus::PublishOutcome o) {
        ++dones;
        why = o.error;
    });
    EXPECT_EQ(dones, 1);
    EXPECT_EQ(why, "the NATS feed is not running");
    feed->forward_announcement(tp::Announcement{"announcement", "1", "", 1});  // nowhere to go: dropped
}
