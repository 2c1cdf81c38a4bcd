#include "gateway/fanout/broadcast_engine.hpp"

#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <functional>
#include <future>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "feeds/runtime/clock.hpp"
#include "gateway/fanout/newest_seq.hpp"
#include "gateway/fanout/worker.hpp"
#include "protocol/messages.hpp"
#include "tests/gateway/session_harness.hpp"

namespace tickgate::gateway {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using runtime::realtime_ns;

// What a session would have written to its socket, kept for the test thread (flush() runs on the
// worker's thread).
PollingDirectory no_polling;

class RecordingSession final : public Session {
public:
    RecordingSession(Worker& worker, std::string peer) : Session(worker, no_polling, std::move(peer), Wire::v1) {}
    void flush() override {
        std::string out;
        queue().take(out);
        std::lock_guard lock(mutex_);
        sent_ += out;
    }
    void on_closing() override {}

    /// Payloads of the text frames sent so far (pings and other control frames left out).
    std::vector<std::string> texts() const {
        std::lock_guard lock(mutex_);
        std::vector<std::string> out;
        for (auto& f : session_test::split_frames(sent_))
            if (f.opcode == protocol::Opcode::text) out.push_back(std::move(f.payload));
        return out;
    }

private:
    mutable std::mutex mutex_;
    std::string sent_;
};

protocol::MarketUpdate update(std::string_view topic, std::uint64_t seq, std::uint16_t feed = 0) {
    protocol::MarketUpdate u;
    u.set_topic(topic);
    u.seq = seq;
    u.feed = feed;
    u.ts_ns = realtime_ns();  // fresh: the workers are never "behind", so they deliver every update
    u.bid = 1000 + static_cast<std::int64_t>(seq);
    u.ask = u.bid + 1;
    u.last = u.bid;
    return u;
}

std::string v1(const protocol::MarketUpdate& u) {
    std::string out;
    protocol::encode_update(u, false, out);
    return out;
}

std::string v1_status(std::string_view feed, std::string_view state, std::string_view message) {
    std::string out;
    protocol::encode_status(feed, state, message, out);
    return out;
}

/// Waits (bounded) until `done` holds; returns whether it did.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 5s) {
    for (const auto end = Clock::now() + timeout; Clock::now() < end; std::this_thread::sleep_for(1ms))
        if (done()) return true;
    return done();
}

// Two real workers on their own threads, a real channel and engine; no sockets: each worker has
// recording sessions subscribed to "ticker.*".
class BroadcastEngineTest : public ::testing::Test {
protected:
    Config config;
    feeds::UpdateChannel channel{1024};
    NewestSeqTable newest{16};
    std::vector<std::unique_ptr<Worker>> workers;
    std::vector<std::shared_ptr<RecordingSession>> sessions;  // sessions[i] on workers[i % 2]
    std::unique_ptr<BroadcastEngine> engine;
    Clock::time_point started;

    void start(std::vector<std::string> feed_names = {"sim"}, std::vector<const feeds::UpstreamStats*> upstreams = {}) {
        for (unsigned i = 0; i < 2; ++i) workers.push_back(std::make_unique<Worker>(i, config, &newest));
        // Three sessions: a worker's subscribers share its frames, so one worker gets two.
        for (unsigned i = 0; i < 3; ++i) {
            Worker& w = *workers[i % 2];
            auto s = std::make_shared<RecordingSession>(w, "127.0.0.1:" + std::to_string(i + 1));
            w.attach(s);
            w.registry().subscribe(*s, std::vector<std::string>{"ticker.*"}, 10);
            sessions.push_back(std::move(s));
        }
        for (auto& w : workers) w->start();
        std::vector<Worker*> raw;
        for (auto& w : workers) raw.push_back(w.get());
        engine = std::make_unique<BroadcastEngine>(config, channel, std::move(feed_names), raw, newest,
                                                   std::move(upstreams));
        started = Clock::now();
        engine->start();
    }
    void TearDown() override {
        if (engine) engine->stop();
        engine.reset();
        for (auto& w : workers) w->stop();
        for (auto& w : workers) w->join();
    }
    void publish(const protocol::MarketUpdate& u) { ASSERT_TRUE(channel.publish(u, std::stop_token{})); }

    /// Runs `f` on the worker's own thread (where its registry lives) and returns its result.
    template <class F>
    auto on_worker(Worker& w, F f) {
        std::packaged_task<decltype(f())()> task(std::move(f));
        auto result = task.get_future();
        boost::asio::post(w.io(), [&task] { task(); });
        EXPECT_EQ(result.wait_for(5s), std::future_status::ready);
        return result.get();
    }
    bool every_session_has(std::size_t texts) {
        for (auto& s : sessions)
            if (s->texts().size() < texts) return false;
        return true;
    }
};

TEST_F(BroadcastEngineTest, UpdatesReachEveryWorkerInFeedOrderUnderTheSameDenseTopicIds) {
    start();
    const std::vector<protocol::MarketUpdate> sent = {
        update("ticker.BTC-USD", 1), update("ticker.ETH-USD", 1), update("ticker.BTC-USD", 2),
        update("ticker.SOL-USD", 1), update("ticker.ETH-USD", 2), update("ticker.BTC-USD", 3),
    };
    for (const auto& u : sent) publish(u);
    ASSERT_TRUE(eventually([&] { return every_session_has(sent.size()); }));

    std::vector<std::string> expected;
    for (const auto& u : sent) expected.push_back(v1(u));
    for (std::size_t i = 0; i < sessions.size(); ++i) EXPECT_EQ(sessions[i]->texts(), expected) << "session " << i;

    // Ids in order of first appearance, the same on every worker: frames and snapshots carry them.
    for (auto& w : workers) {
        const auto ids = on_worker(*w, [&] {
            auto& r = w->registry();
            return std::vector<std::optional<std::uint32_t>>{r.find("ticker.BTC-USD"), r.find("ticker.ETH-USD"),
                                                             r.find("ticker.SOL-USD")};
        });
        EXPECT_EQ(ids, (std::vector<std::optional<std::uint32_t>>{0u, 1u, 2u})) << "worker " << w->index();
        const auto latest = on_worker(*w, [&] {
            return std::vector<std::uint64_t>{w->registry().topic(0).latest.seq, w->registry().topic(1).latest.seq,
                                              w->registry().topic(2).latest.seq};
        });
        EXPECT_EQ(latest, (std::vector<std::uint64_t>{3, 2, 1})) << "worker " << w->index();
    }
    EXPECT_EQ(engine->topic_count(), 3u);
    // What a behind worker compares against: the newest seq handed out per topic.
    EXPECT_TRUE(newest.superseded(0, 2));
    EXPECT_FALSE(newest.superseded(0, 3));
    EXPECT_FALSE(newest.superseded(2, 1));
}

TEST_F(BroadcastEngineTest, UpdatesOfTopicsPastMaxTopicsAreDroppedAndCounted) {
    config.max_topics = 2;
    start();
    const auto btc1 = update("ticker.BTC-USD", 1), eth1 = update("ticker.ETH-USD", 1);
    const auto btc2 = update("ticker.BTC-USD", 2), eth2 = update("ticker.ETH-USD", 2);
    publish(btc1);
    publish(eth1);
    publish(update("ticker.SOL-USD", 1));
    publish(btc2);
    publish(update("ticker.SOL-USD", 2));
    publish(eth2);  // last: once it arrived, every SOL update before it was handled
    ASSERT_TRUE(eventually([&] { return every_session_has(4); }));

    const std::vector<std::string> expected = {v1(btc1), v1(eth1), v1(btc2), v1(eth2)};
    for (std::size_t i = 0; i < sessions.size(); ++i) EXPECT_EQ(sessions[i]->texts(), expected) << "session " << i;
    EXPECT_EQ(engine->topic_limit_drops(), 2u);
    EXPECT_EQ(engine->topic_count(), 2u);
    for (auto& w : workers) {
        EXPECT_EQ(on_worker(*w, [&] { return w->registry().topic_count(); }), 2u);
        EXPECT_FALSE(on_worker(*w, [&] { return w->registry().find("ticker.SOL-USD").has_value(); }));
    }
}

TEST_F(BroadcastEngineTest, ATopicOwnedByAnotherFeedIsRefusedAndCounted) {
    start({"sim", "replay:ticks.jsonl"});
    const auto btc_sim = update("ticker.BTC-USD", 1, 0);
    const auto eth_replay = update("ticker.ETH-USD", 1, 1);
    const auto btc_sim2 = update("ticker.BTC-USD", 2, 0);
    publish(btc_sim);
    publish(update("ticker.BTC-USD", 7, 1));  // the replay publishes the simulator's topic
    publish(eth_replay);                      // a topic of its own is fine
    publish(btc_sim2);
    ASSERT_TRUE(eventually([&] { return every_session_has(3); }));

    const std::vector<std::string> expected = {v1(btc_sim), v1(eth_replay), v1(btc_sim2)};
    for (std::size_t i = 0; i < sessions.size(); ++i) EXPECT_EQ(sessions[i]->texts(), expected) << "session " << i;
    EXPECT_EQ(engine->conflicts(), 1u);
    EXPECT_FALSE(newest.superseded(0, 2)) << "the refused seq 7 must not count as the topic's newest";
    // Freshness is the feed being alive: a refused update still shows its feed is producing.
    const auto health = engine->feed_health();
    ASSERT_EQ(health.size(), 2u);
    EXPECT_EQ(health[0].name, "sim");
    EXPECT_EQ(health[0].updates, 2u);
    EXPECT_EQ(health[1].name, "replay:ticks.jsonl");
    EXPECT_EQ(health[1].updates, 2u);
}

TEST_F(BroadcastEngineTest, AFeedSilentForStaleMsIsAnnouncedStaleToEveryWorkerThenOkAgain) {
    config.stale_ms = 150;
    start();
    const auto stale = [&](RecordingSession& s) {
        for (const auto& t : s.texts())
            if (t.starts_with(R"({"type":"status","feed":"sim","state":"stale","message":"no update for )")) return true;
        return false;
    };
    ASSERT_TRUE(eventually([&] {
        for (auto& s : sessions)
            if (!stale(*s)) return false;
        return true;
    })) << "no stale status after " << config.stale_ms << " ms without an update";
    EXPECT_GE(Clock::now() - started, 150ms) << "announced stale before stale_ms had passed";
    for (auto& s : sessions) {
        const auto texts = s->texts();
        ASSERT_EQ(texts.size(), 1u) << "one announcement per change, not one per check";
        // The engine's own measure of the silence, in the message: at least stale_ms.
        const auto ms = std::stoll(texts[0].substr(texts[0].find("no update for ") + 14));
        EXPECT_GE(ms, 150);
    }
    auto health = engine->feed_health();
    ASSERT_EQ(health.size(), 1u);
    EXPECT_FALSE(health[0].fresh);
    EXPECT_GE(health[0].age_ms, 150);
    // A session that opens meanwhile is told at once.
    for (auto& w : workers)
        EXPECT_EQ(on_worker(*w, [&] { return w->current_stale_statuses(Wire::v1).size(); }), 1u);

    const auto u = update("ticker.BTC-USD", 1);
    publish(u);
    const std::string ok = v1_status("sim", "ok", "updates flowing again");
    ASSERT_TRUE(eventually([&] {
        for (auto& s : sessions)
            if (s->texts().size() < 3) return false;
        return true;
    }));
    for (auto& s : sessions) {
        const auto texts = s->texts();
        EXPECT_EQ(texts[1], v1(u));
        EXPECT_EQ(texts[2], ok);
    }
    health = engine->feed_health();
    EXPECT_TRUE(health[0].fresh);
    EXPECT_EQ(health[0].updates, 1u);
    for (auto& w : workers)
        EXPECT_EQ(on_worker(*w, [&] { return w->current_stale_statuses(Wire::v1).size(); }), 0u);
}

TEST_F(BroadcastEngineTest, AnUpstreamDropIsStaleAtOnceAndFreshOnlyWhenUpdatesFlowAfterTheReconnect) {
    config.stale_ms = 60'000;  // the silence rule cannot be what fires here
    feeds::UpstreamStats up;
    up.connected = true;
    start({"nats://127.0.0.1:4222"}, {&up});
    const std::string feed = "nats://127.0.0.1:4222";
    publish(update("ticker.BTC-USD", 1));
    ASSERT_TRUE(eventually([&] { return every_session_has(1); }));
    ASSERT_TRUE(engine->feed_health()[0].fresh);

    const auto dropped = Clock::now();
    up.disconnects = 1;
    up.connected = false;
    EXPECT_FALSE(engine->feed_health()[0].fresh) << "/healthz must not wait for the next check";
    const std::string stale = v1_status(feed, "stale", "upstream disconnected");
    ASSERT_TRUE(eventually([&] {
        for (auto& s : sessions)
            if (s->texts().size() < 2 || s->texts()[1] != stale) return false;
        return true;
    }, 2s)) << "no stale status after the drop";
    EXPECT_LT(Clock::now() - dropped, 1s) << "stale at once, not after a silence";

    // Connected again, nothing through yet: still stale.
    up.reconnects = 1;
    up.connected = true;
    // A negative can only be watched for a while: four of the engine's checks.
    std::this_thread::sleep_for(200ms);
    EXPECT_FALSE(engine->feed_health()[0].fresh) << "fresh before any update came after the reconnect";
    for (auto& s : sessions) EXPECT_EQ(s->texts().size(), 2u);

    const auto u = update("ticker.BTC-USD", 2);
    publish(u);
    const std::string ok = v1_status(feed, "ok", "updates flowing again");
    ASSERT_TRUE(eventually([&] {
        for (auto& s : sessions)
            if (s->texts().size() < 4) return false;
        return true;
    }));
    for (auto& s : sessions) {
        EXPECT_EQ(s->texts()[2], v1(u));
        EXPECT_EQ(s->texts()[3], ok);
    }
    EXPECT_TRUE(engine->feed_health()[0].fresh);
}

TEST_F(BroadcastEngineTest, ADropAndReconnectBetweenTwoChecksIsStillAnnounced) {
    config.stale_ms = 60'000;
    feeds::UpstreamStats up;
    up.connected = true;
    start({"nats"}, {&up});
    publish(update("ticker.BTC-USD", 1));
    ASSERT_TRUE(eventually([&] { return every_session_has(1); }));
    // Both flips at once, quicker than the engine's 50 ms check: only the drop count shows it.
    up.disconnects = 1;
    ASSERT_TRUE(eventually([&] {
        for (auto& s : sessions)
            if (s->texts().size() < 2) return false;
        return true;
    }, 2s));
    for (auto& s : sessions) EXPECT_EQ(s->texts()[1], v1_status("nats", "stale", "upstream disconnected"));
}

TEST_F(BroadcastEngineTest, AnUpstreamNotYetConnectedAtStartKeepsTheStaleMsGrace) {
    config.stale_ms = 60'000;
    feeds::UpstreamStats up;  // connecting, never connected, no drop
    start({"nats"}, {&up});
    std::this_thread::sleep_for(200ms);  // four checks: none may call the feed stale
    EXPECT_TRUE(engine->feed_health()[0].fresh);
    for (auto& s : sessions) EXPECT_TRUE(s->texts().empty());
}

TEST_F(BroadcastEngineTest, FeedHealthCountsUpdatesAndAgesFromStartUntilTheFirst) {
    config.stale_ms = 60'000;
    start({"sim", "replay:ticks.jsonl"});
    auto health = engine->feed_health();
    ASSERT_EQ(health.size(), 2u);
    for (const auto& h : health) {
        EXPECT_TRUE(h.fresh) << h.name << ": a feed is fresh for stale_ms after start";
        EXPECT_EQ(h.updates, 0u) << h.name;
        EXPECT_GE(h.age_ms, 0) << h.name;
        EXPECT_LT(h.age_ms, 60'000) << h.name;
    }
    for (std::uint64_t seq = 1; seq <= 5; ++seq) publish(update("ticker.BTC-USD", seq, 0));
    ASSERT_TRUE(eventually([&] { return every_session_has(5); }));
    health = engine->feed_health();
    EXPECT_EQ(health[0].updates, 5u);
    EXPECT_EQ(health[1].updates, 0u);
    EXPECT_TRUE(health[0].fresh);
    EXPECT_TRUE(health[1].fresh);
    EXPECT_EQ(engine->conflicts(), 0u);
    EXPECT_EQ(engine->topic_limit_drops(), 0u);
}

}  // namespace
}  // namespace tickgate::gateway
