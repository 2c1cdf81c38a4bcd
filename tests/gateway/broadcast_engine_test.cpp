#include "gateway/fanout/broadcast_engine.hpp"

#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include <algorithm>
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
#include "gateway/fanout/frame_encoder.hpp"
#include "gateway/fanout/newest_seq.hpp"
#include "gateway/fanout/worker.hpp"
#include "protocol/messages.hpp"
#include "tests/e2e/support/reference_book.hpp"
#include "tests/gateway/session_harness.hpp"

namespace tickgate::gateway {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using session_test::eventually;
using session_test::RecordingSession;

using runtime::realtime_ns;

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

    std::vector<std::string> entries{"ticker.*"};  // what every session subscribes to at start

    void start(std::vector<std::string> feed_names = {"sim"}, std::vector<const feeds::UpstreamStats*> upstreams = {}) {
        for (unsigned i = 0; i < 2; ++i) workers.push_back(std::make_unique<Worker>(i, config, &newest));
        // Three sessions: a worker's subscribers share its frames, so one worker gets two.
        for (unsigned i = 0; i < 3; ++i) {
            Worker& w = *workers[i % 2];
            auto s = std::make_shared<RecordingSession>(w, "127.0.0.1:" + std::to_string(i + 1));
            w.attach(s);
            w.registry().subscribe(*s, entries, 10);
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
        for (auto& w : workers) w->stop();
        for (auto& w : workers) w->join();
        // After the workers, as the Server does: handlers that worker 0 still runs for the
        // stopped engine read its Loop (ThreadSanitizer saw the engine freed under them).
        engine.reset();
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

namespace tickgate::gateway {
namespace {

struct LevelChange {
    protocol::BookSide side;
    std::int64_t price, size;
};

/// One change of book.<symbol> as the fragments a feed publishes (4 levels per slot).
std::vector<protocol::MarketUpdate> book_change(std::string_view symbol, std::uint64_t seq,
                                                const std::vector<LevelChange>& levels, bool reset = false) {
    std::vector<protocol::MarketUpdate> out;
    const auto ts = realtime_ns();
    for (std::size_t i = 0; i == 0 || i < levels.size(); i += protocol::kLevelsPerFragment) {
        protocol::MarketUpdate u;
        u.kind = protocol::UpdateKind::book;
        u.set_topic("book." + std::string(symbol));
        u.seq = seq;
        u.ts_ns = ts;
        u.price_decimals = 2;
        u.size_decimals = 4;
        auto& f = u.book;
        f.count = 0;
        f.ask_mask = 0;
        f.flags = i == 0 ? protocol::kBookFirst | (reset ? protocol::kBookReset : 0) : 0;
        for (std::size_t k = i; k < levels.size() && k < i + protocol::kLevelsPerFragment; ++k, ++f.count) {
            f.price[f.count] = levels[k].price;
            f.size[f.count] = levels[k].size;
            if (levels[k].side == protocol::BookSide::ask) f.ask_mask |= static_cast<std::uint8_t>(1u << f.count);
        }
        if (i + protocol::kLevelsPerFragment >= levels.size()) f.flags |= protocol::kBookLast;
        out.push_back(u);
    }
    return out;
}

/// A full book around 100.00: `depth` bids 99.99, 99.98, ... and asks 100.01, 100.02, ...
std::vector<LevelChange> full_book(int depth) {
    std::vector<LevelChange> levels;
    for (int i = 0; i < depth; ++i) {
        levels.push_back({protocol::BookSide::bid, 9999 - i, 10000 + i});
        levels.push_back({protocol::BookSide::ask, 10001 + i, 20000 + i});
    }
    return levels;
}

std::vector<std::string> of_type(const std::vector<std::string>& texts, std::string_view type) {
    std::vector<std::string> out;
    const std::string key = "{\"type\":\"" + std::string(type) + "\"";
    for (const auto& t : texts)
        if (t.rfind(key, 0) == 0) out.push_back(t);
    return out;
}

TEST_F(BroadcastEngineTest, ABookSourceFeedsTwoTruncatedViewsWhoseDeltasChainAndChecksum) {
    entries = {"book.*", "book50.*"};
    start();
    // A 60-level reset in 30 fragments, then: a change at rank 20 (book50 only), one at the top (both
    // views; pushes a level out of book's top 10), removal of the best ask (a level enters from below).
    for (const auto& u : book_change("BTC-USD", 1, full_book(60), true)) publish(u);
    for (const auto& u : book_change("BTC-USD", 2, {{protocol::BookSide::bid, 9979, 5}})) publish(u);
    for (const auto& u : book_change("BTC-USD", 3, {{protocol::BookSide::bid, 10000, 7}})) publish(u);
    for (const auto& u : book_change("BTC-USD", 4, {{protocol::BookSide::ask, 10001, 0}})) publish(u);
    ASSERT_TRUE(eventually([&] {
        for (auto& s : sessions)
            if (of_type(s->texts(), "book").size() < 3 || of_type(s->texts(), "book50").size() < 4) return false;
        return true;
    }));
    for (std::size_t i = 0; i < sessions.size(); ++i) {
        const auto texts = sessions[i]->texts();
        const auto book = of_type(texts, "book");
        const auto book50 = of_type(texts, "book50");
        ASSERT_EQ(book.size(), 3u) << "the rank-20 change (seq 2) is below book's top 10";
        ASSERT_EQ(book50.size(), 4u);
        // The views exist from the start as empty books at seq 0, so the first delta chains from 0.
        e2e::ReferenceBook top10, top50;
        ASSERT_TRUE(top10.apply(R"({"type":"book","topic":"book.BTC-USD","seq":0,"ts":0,"snapshot":true,"bids":[],"asks":[],"checksum":)" +
                                std::to_string(crc32(0, reinterpret_cast<const Bytef*>("|"), 1)) + "}"))
            << top10.error();
        ASSERT_TRUE(top50.apply(R"({"type":"book50","topic":"book50.BTC-USD","seq":0,"ts":0,"snapshot":true,"bids":[],"asks":[],"checksum":)" +
                                std::to_string(crc32(0, reinterpret_cast<const Bytef*>("|"), 1)) + "}"))
            << top50.error();
        for (const auto& t : book) {
            ASSERT_TRUE(top10.apply(t)) << top10.error() << "\n" << t;
            EXPECT_LE(top10.bid_depth(), 10u);
            EXPECT_LE(top10.ask_depth(), 10u);
        }
        for (const auto& t : book50) {
            ASSERT_TRUE(top50.apply(t)) << top50.error() << "\n" << t;
            EXPECT_LE(top50.bid_depth(), 50u);
        }
        EXPECT_EQ(top10.seq(), 4u);
        EXPECT_EQ(top50.seq(), 4u);
        EXPECT_EQ(top10.bid_depth(), 10u);
        // The source sent 60 levels and the gateway's source book keeps them (capacity 64), so the
        // best ask's removal pulls the 51st into book50.
        EXPECT_EQ(top50.ask_depth(), 50u);
        EXPECT_EQ(top10.best_bid()->first, "100.00");
        EXPECT_EQ(top10.best_ask()->first, "100.02");
        // The top-of-book change pushed 99.90 out of book's top 10: its delta removes it.
        EXPECT_NE(book[1].find(R"(["99.90","0.0000"])"), std::string::npos) << book[1];
        EXPECT_NE(book[1].find(R"("prev_seq":1)"), std::string::npos) << book[1];
        // The best ask's removal pulls 100.11 into book's top 10 from below.
        EXPECT_NE(book[2].find(R"(["100.11","2.0010"])"), std::string::npos) << book[2];
        EXPECT_EQ(top10.checksum(), top50.checksum()) << "both views checksum the same first 10 levels";
    }
    EXPECT_EQ(engine->topic_count(), 2u);
}

TEST_F(BroadcastEngineTest, ASubscriberGetsTheWorkersViewAsASnapshotThatTheNextDeltaChainsFrom) {
    entries = {"ticker.*"};
    start();
    for (const auto& u : book_change("ETH-USD", 7, full_book(12), true)) publish(u);
    for (const auto& u : book_change("ETH-USD", 8, {{protocol::BookSide::ask, 10001, 3}})) publish(u);
    publish(update("ticker.ETH-USD", 1));  // once it arrived, the book changes before it were handled
    ASSERT_TRUE(eventually([&] { return every_session_has(1); }));
    Worker& w = *workers[0];
    auto late = std::make_shared<RecordingSession>(w, "127.0.0.1:9");
    on_worker(w, [&] {
        w.attach(late);
        auto outcome = w.registry().subscribe(*late, std::vector<std::string>{"book.ETH-USD", "book.*", "trade.ETH-USD"}, 10);
        // Covered twice (exactly and by the pattern), delivered once; trade.ETH-USD does not exist.
        EXPECT_EQ(outcome.newly_covered.size(), 1u);
        EXPECT_EQ(outcome.unknown, std::vector<std::string>{"trade.ETH-USD"});
        const TopicState& t = w.registry().topic(outcome.newly_covered[0]);
        std::string snapshot;
        frames::book_snapshot(t.name, t.book_seq, t.book_ts_ns, *t.book, Wire::v1, snapshot);
        late->queue().push_control(snapshot, realtime_ns());
        return 0;
    });
    for (const auto& u : book_change("ETH-USD", 9, {{protocol::BookSide::bid, 9999, 0}})) publish(u);
    publish(update("ticker.ETH-USD", 2));
    ASSERT_TRUE(eventually([&] { return every_session_has(2); }));
    on_worker(w, [&] { late->flush(); return 0; });
    const auto texts = late->texts();
    ASSERT_EQ(texts.size(), 2u);
    e2e::ReferenceBook ref;
    ASSERT_TRUE(ref.apply(texts[0])) << ref.error() << "\n" << texts[0];
    EXPECT_NE(texts[0].find(R"("seq":8,)"), std::string::npos) << texts[0];
    ASSERT_TRUE(ref.apply(texts[1])) << ref.error() << "\n" << texts[1];
    EXPECT_EQ(ref.seq(), 9u);
    EXPECT_EQ(ref.best_bid()->first, "99.98");
    on_worker(w, [&] { w.detach(*late); return 0; });
}

// Found by tickgate-load: a full book50 copy that applied a delta's addition before its removal
// lost a level, so later subscribers got a snapshot that failed its checksum further on.
TEST_F(BroadcastEngineTest, AFullBook50SnapshotKeepsEveryLevelWhenADeltaAddsAboveAndRemovesBelow) {
    entries = {"ticker.*"};
    start();
    for (const auto& u : book_change("SOL-USD", 1, full_book(50), true)) publish(u);
    // Added first, removed second, in one change: the source book briefly holds 51 bids.
    for (const auto& u : book_change("SOL-USD", 2, {{protocol::BookSide::bid, 10000, 7}, {protocol::BookSide::bid, 9980, 0}}))
        publish(u);
    publish(update("ticker.SOL-USD", 1));
    ASSERT_TRUE(eventually([&] { return every_session_has(1); }));
    for (auto& w : workers) {
        const auto snapshot = on_worker(*w, [&] {
            const auto id = w->registry().find("book50.SOL-USD");
            EXPECT_TRUE(id.has_value());
            const TopicState& t = w->registry().topic(*id);
            std::string out;
            frames::book_snapshot(t.name, t.book_seq, t.book_ts_ns, *t.book, Wire::v1, out);
            return session_test::split_frames(out).at(0).payload;
        });
        e2e::ReferenceBook ref;
        ASSERT_TRUE(ref.apply(snapshot)) << ref.error() << "\n" << snapshot;
        EXPECT_EQ(ref.bid_depth(), 50u) << "worker " << w->index() << ": 99.50 is still the 50th bid";
        EXPECT_EQ(ref.seq(), 2u);
    }
}

TEST_F(BroadcastEngineTest, TradesReachSubscribersInOrderAndABookOnAForeignChannelIsRefused) {
    entries = {"trade.*", "foo.*"};
    start();
    protocol::MarketUpdate t;
    t.kind = protocol::UpdateKind::trade;
    t.set_topic("trade.BTC-USD");
    t.ts_ns = realtime_ns();
    t.trade = {6499975, 100, 42, protocol::TradeSide::sell};
    t.seq = 1;
    publish(t);
    t.seq = 2;
    t.trade.trade_id = 43;
    publish(t);
    auto bad = book_change("BTC-USD", 1, {{protocol::BookSide::bid, 1, 1}});
    bad[0].set_topic("foo.BTC-USD");
    publish(bad[0]);
    // book.<SYM> fits 27 characters, book50.<SYM> would not: refused, no half-made views.
    bad[0].set_topic("book.ABCDEFGHIJ-ABCDEFGHIJ");
    publish(bad[0]);
    t.seq = 3;
    publish(t);
    ASSERT_TRUE(eventually([&] { return every_session_has(3); }));
    for (auto& s : sessions) {
        const auto texts = s->texts();
        ASSERT_EQ(texts.size(), 3u);
        EXPECT_EQ(texts[0], R"({"type":"trade","topic":"trade.BTC-USD","seq":1,"ts":)" + std::to_string(t.ts_ns) +
                                R"(,"trade_id":42,"price":"64999.75","size":"0.0100","side":"sell"})");
        EXPECT_NE(texts[2].find(R"("seq":3,)"), std::string::npos);
    }
    EXPECT_EQ(engine->conflicts(), 2u);
    EXPECT_EQ(engine->topic_count(), 1u);
}

protocol::MarketUpdate epoch_record(std::uint64_t epoch, std::uint16_t feed = 0) {
    protocol::MarketUpdate u;
    u.kind = protocol::UpdateKind::epoch;
    u.seq = epoch;
    u.feed = feed;
    return u;
}

TEST_F(BroadcastEngineTest, ANewEpochIsAnnouncedAndEachTopicsNextValueComesAsAFreshSnapshot) {
    entries = {"ticker.*", "book.*", "trade.*"};
    start({"nats://127.0.0.1:4222"});
    // A NATS feed learns its publisher's epoch before the first update: nothing to tell clients.
    publish(epoch_record(0x1111));
    for (std::uint64_t seq = 1; seq <= 3; ++seq) publish(update("ticker.BTC-USD", seq + 40));
    for (const auto& u : book_change("BTC-USD", 50, full_book(12), true)) publish(u);
    for (const auto& u : book_change("BTC-USD", 51, {{protocol::BookSide::bid, 9999, 7}})) publish(u);
    protocol::MarketUpdate t;
    t.kind = protocol::UpdateKind::trade;
    t.set_topic("trade.BTC-USD");
    t.ts_ns = realtime_ns();
    t.trade = {6499975, 100, 42, protocol::TradeSide::sell};
    t.seq = 60;
    publish(t);
    ASSERT_TRUE(eventually([&] { return every_session_has(6); }));

    // The publisher started over: its seqs begin at 1 again, a book with a reset.
    publish(epoch_record(0x2222));
    const auto ticker = update("ticker.BTC-USD", 1);
    publish(ticker);
    for (const auto& u : book_change("BTC-USD", 1, full_book(3), true)) publish(u);
    for (const auto& u : book_change("BTC-USD", 2, {{protocol::BookSide::ask, 10001, 0}})) publish(u);
    publish(update("ticker.BTC-USD", 2));
    t.seq = 1;
    publish(t);
    ASSERT_TRUE(eventually([&] { return every_session_has(12); }));
    const std::string status = v1_status("nats://127.0.0.1:4222", "ok", "epoch changed: seqs start over");
    for (auto& s : sessions) {
        const auto texts = s->texts();
        ASSERT_EQ(texts.size(), 12u);
        ASSERT_EQ(std::count(texts.begin(), texts.end(), status), 1) << "one status, for the change only";
        EXPECT_EQ(texts[6], status) << "after the old epoch's messages, before the new one's";
        std::string snapshot;
        protocol::encode_update(ticker, true, snapshot);
        EXPECT_EQ(texts[7], snapshot) << "the ticker's first value of the new epoch, as a snapshot";
        // The book view's first change of the new epoch is its whole state, as a snapshot (no
        // prev_seq: it chains from nothing the client held), and the next delta chains from it.
        e2e::ReferenceBook book;
        ASSERT_TRUE(book.apply(texts[8])) << book.error() << "\n" << texts[8];
        EXPECT_NE(texts[8].find(R"("seq":1,)"), std::string::npos) << texts[8];
        EXPECT_NE(texts[8].find(R"("snapshot":true)"), std::string::npos) << texts[8];
        EXPECT_EQ(texts[8].find("prev_seq"), std::string::npos) << texts[8];
        EXPECT_EQ(book.bid_depth(), 3u) << "the old epoch's levels are gone";
        ASSERT_TRUE(book.apply(texts[9])) << book.error() << "\n" << texts[9];
        EXPECT_EQ(book.seq(), 2u);
        EXPECT_NE(texts[10].find(R"("seq":2,)"), std::string::npos) << texts[10];
        EXPECT_NE(texts[10].find(R"("snapshot":false)"), std::string::npos) << "then live again: " << texts[10];
        EXPECT_NE(texts[11].find(R"({"type":"trade","topic":"trade.BTC-USD","seq":1,)"), std::string::npos)
            << "a trade has no snapshot: it comes as it is, its seq showing the restart: " << texts[11];
    }
}

}  // namespace
}  // namespace tickgate::gateway
