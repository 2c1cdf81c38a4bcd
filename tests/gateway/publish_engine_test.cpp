// Client publishing through the broadcast engine (issue 16): two real workers and a real engine,
// recording sessions, no sockets. Rooms are sequenced by the engine itself, or, with a message bus
// set, by the bus's publisher (a test bus that records what it is asked and answers from a thread of
// its own, as NATS does).
#include "gateway/fanout/broadcast_engine.hpp"

#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <atomic>
#include <functional>
#include <map>
#include <future>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "feeds/feed_adapter.hpp"
#include "feeds/runtime/clock.hpp"
#include "gateway/fanout/newest_seq.hpp"
#include "gateway/fanout/worker.hpp"
#include "protocol/publish_messages.hpp"
#include "tests/gateway/session_harness.hpp"

namespace tickgate::gateway {
namespace {

using namespace std::chrono_literals;
using session_test::eventually;
using session_test::RecordingSession;

protocol::PublishedMessage message(std::string topic, std::string data, std::string from = "alice") {
    protocol::PublishedMessage m;
    m.topic = std::move(topic);
    m.from = std::move(from);
    m.data = std::move(data);
    return m;
}

/// What a subscriber receives for `m` (with the seq and ts it was given).
std::string v1(const protocol::PublishedMessage& m) {
    std::string out;
    protocol::encode_published_message(m, out);
    return out;
}

/// A bus whose publisher numbers each room's messages from 41 on (a publisher that has sequenced
/// before), answers from its own thread, and then sends the message to every gateway's sink.
class TestBus final : public feeds::MessageBus {
public:
    ~TestBus() override { join(); }
    void set_message_sink(MessageSink sink) override { sink_ = std::move(sink); }
    void set_announcement_sink(AnnouncementSink) override {}
    void forward_publish(protocol::PublishedMessage m, std::function<void(PublishOutcome)> done) override {
        std::lock_guard lock(mutex_);
        forwarded.push_back(m);
        threads_.emplace_back([this, m = std::move(m), done = std::move(done)]() mutable {
            if (unreachable) return done(PublishOutcome{0, "no responders"});
            {
                std::lock_guard lock(mutex_);
                m.seq = ++seqs_[m.topic];
            }
            m.ts_ns = runtime::realtime_ns();
            done(PublishOutcome{m.seq, {}});
            sink_(m);
        });
    }
    void forward_announcement(const protocol::Announcement&) override {}
    /// A message of another gateway's client, as the bus brings it.
    void from_elsewhere(protocol::PublishedMessage m) { sink_(std::move(m)); }
    void join() {
        std::vector<std::thread> threads;
        {
            std::lock_guard lock(mutex_);
            threads.swap(threads_);
        }
        for (auto& t : threads) t.join();
    }
    std::vector<protocol::PublishedMessage> forwarded_copy() {
        std::lock_guard lock(mutex_);
        return forwarded;
    }

    std::atomic<bool> unreachable{false};

private:
    std::mutex mutex_;
    std::vector<protocol::PublishedMessage> forwarded;
    std::map<std::string, std::uint64_t> seqs_{{"chat.lobby", 40}};
    std::vector<std::thread> threads_;
    MessageSink sink_;
};

class PublishEngineTest : public ::testing::Test {
protected:
    Config config;
    feeds::UpdateChannel channel{1024};
    NewestSeqTable newest{64};
    std::vector<std::unique_ptr<Worker>> workers;
    std::unique_ptr<BroadcastEngine> engine;
    std::shared_ptr<RecordingSession> lobby;     // worker 0, v1: chat.lobby, subscribed before the room exists
    std::shared_ptr<RecordingSession> everyone;  // worker 1, Socket.IO: chat.*
    TestBus bus;

    void SetUp() override { config.publish_channels = {"chat"}; }

    void start(bool with_bus = false) {
        for (unsigned i = 0; i < 2; ++i) workers.push_back(std::make_unique<Worker>(i, config, &newest));
        lobby = std::make_shared<RecordingSession>(*workers[0], Wire::v1);
        everyone = std::make_shared<RecordingSession>(*workers[1], Wire::socketio);
        workers[0]->attach(lobby);
        workers[1]->attach(everyone);
        const auto held = workers[0]->registry().subscribe(*lobby, std::vector<std::string>{"chat.lobby"}, 10,
                                                           config.publish_channels);
        EXPECT_EQ(held.added, std::vector<std::string>{"chat.lobby"});  // known before its first message
        EXPECT_TRUE(held.unknown.empty());
        workers[1]->registry().subscribe(*everyone, std::vector<std::string>{"chat.*", "ticker.*"}, 10,
                                         config.publish_channels);
        for (auto& w : workers) w->start();
        std::vector<Worker*> raw;
        for (auto& w : workers) raw.push_back(w.get());
        engine = std::make_unique<BroadcastEngine>(config, channel, std::vector<std::string>{"sim"}, raw, newest);
        if (with_bus) {
            engine->set_message_bus(&bus);
            bus.set_message_sink([e = engine.get()](protocol::PublishedMessage m) { e->deliver_published(std::move(m)); });
        }
        engine->start();
    }
    void TearDown() override {
        bus.join();
        if (engine) engine->stop();
        for (auto& w : workers) w->stop();
        for (auto& w : workers) w->join();
        // After the workers, as the Server does: handlers that worker 0 still runs for the
        // stopped engine read its Loop (ThreadSanitizer saw the engine freed under them).
        engine.reset();
    }

    struct Answer {
        PublishResult result;
        std::thread::id thread;
    };
    /// Submits and waits for `done`; records the thread it ran on.
    Answer submit(protocol::PublishedMessage m) {
        auto answered = std::make_shared<std::promise<Answer>>();
        auto future = answered->get_future();
        engine->submit_publish(std::move(m), [answered](PublishResult r) {
            answered->set_value(Answer{std::move(r), std::this_thread::get_id()});
        });
        EXPECT_EQ(future.wait_for(5s), std::future_status::ready);
        return future.get();
    }
    std::thread::id thread_of(Worker& w) {
        std::promise<std::thread::id> id;
        boost::asio::post(w.io(), [&] { id.set_value(std::this_thread::get_id()); });
        return id.get_future().get();
    }
    template <class F>
    auto on_worker(Worker& w, F f) {
        std::packaged_task<decltype(f())()> task(std::move(f));
        auto result = task.get_future();
        boost::asio::post(w.io(), [&task] { task(); });
        EXPECT_EQ(result.wait_for(5s), std::future_status::ready);
        return result.get();
    }
    /// Texts of `s` that are messages of `topic` (v1 objects or Socket.IO events).
    static std::vector<std::string> of(const RecordingSession& s, std::string_view topic) {
        std::vector<std::string> out;
        for (auto& t : s.texts())
            if (t.find("\"topic\":\"" + std::string(topic) + "\"") != std::string::npos) out.push_back(t);
        return out;
    }
};

TEST_F(PublishEngineTest, TheEngineSequencesEachRoomAndDeliversThroughTheWorkers) {
    start();
    std::vector<protocol::PublishedMessage> lobby_sent, other_sent;
    for (int i = 1; i <= 3; ++i) {
        auto m = message("chat.lobby", R"({"text":"hi )" + std::to_string(i) + R"(", "n":1.10})");
        const auto answer = submit(m);
        ASSERT_FALSE(answer.result.error) << answer.result.message;
        EXPECT_EQ(answer.result.seq, static_cast<std::uint64_t>(i));  // per room, from 1
        EXPECT_EQ(answer.thread, thread_of(*workers[0])) << "done runs on worker 0";
        m.seq = answer.result.seq;
        lobby_sent.push_back(m);
        if (i < 3) {
            auto o = message("chat.other", "[" + std::to_string(i) + "]", "anon:1");
            o.seq = submit(o).result.seq;
            EXPECT_EQ(o.seq, static_cast<std::uint64_t>(i)) << "one room's seqs are independent of another's";
            other_sent.push_back(o);
        }
    }
    // Each subscriber on its own worker: wait for every delivery, not just the first to arrive.
    ASSERT_TRUE(eventually([&] {
        return of(*lobby, "chat.lobby").size() == 3 && of(*everyone, "chat.other").size() == 2 &&
               of(*everyone, "chat.lobby").size() == 3;
    }));
    const auto lobby_got = of(*lobby, "chat.lobby");
    for (std::size_t i = 0; i < 3; ++i) {
        // The ts is the engine's: compare the rest exactly, the data byte for byte.
        auto expected = lobby_sent[i];
        const auto ts_at = lobby_got[i].find("\"ts\":") + 5;
        expected.ts_ns = std::stoll(lobby_got[i].substr(ts_at));
        EXPECT_GT(expected.ts_ns, 0);
        EXPECT_EQ(lobby_got[i], v1(expected));
    }
    EXPECT_TRUE(of(*lobby, "chat.other").empty()) << "an exact room receives its room only";
    // The Socket.IO subscriber gets the same object in the event named after the channel.
    const auto sio = of(*everyone, "chat.lobby");
    ASSERT_EQ(sio.size(), 3u);
    EXPECT_TRUE(sio[0].starts_with(R"(42["chat",{"type":"chat","topic":"chat.lobby","seq":1,)")) << sio[0];
    EXPECT_EQ(sio[0].substr(sio[0].find(",{") + 1), lobby_got[0] + "]");

    // One dense id per room on every worker; list shows the rooms that exist.
    for (auto& w : workers) {
        const auto names = on_worker(*w, [&] {
            std::vector<std::string> out;
            for (auto n : w->registry().topic_names()) out.emplace_back(n);
            return out;
        });
        EXPECT_EQ(names, (std::vector<std::string>{"chat.lobby", "chat.other"})) << "worker " << w->index();
    }
    EXPECT_EQ(engine->publish_topic_count(), 2u);
    EXPECT_EQ(engine->published(PublishedResult::delivered), 5u);
}

TEST_F(PublishEngineTest, RoomsCountAgainstMaxPublishTopicsNeverMaxTopics) {
    config.max_topics = 1;
    config.max_publish_topics = 2;
    start();
    EXPECT_FALSE(submit(message("chat.a", "1")).result.error);
    EXPECT_FALSE(submit(message("chat.b", "1")).result.error);
    const auto third = submit(message("chat.c", "1")).result;
    ASSERT_TRUE(third.error);
    EXPECT_EQ(*third.error, protocol::ErrorCode::too_many_topics);
    EXPECT_NE(third.message.find("--max-publish-topics"), std::string::npos);
    // Existing rooms go on; market data still gets its one topic.
    EXPECT_EQ(submit(message("chat.a", "2")).result.seq, 2u);
    protocol::MarketUpdate u;
    u.set_topic("ticker.BTC-USD");
    u.seq = 1;
    u.ts_ns = runtime::realtime_ns();
    ASSERT_TRUE(channel.publish(u, std::stop_token{}));
    ASSERT_TRUE(eventually([&] { return !of(*everyone, "ticker.BTC-USD").empty(); }));
    EXPECT_EQ(engine->topic_limit_drops(), 0u);
    EXPECT_EQ(engine->published(PublishedResult::too_many_topics), 1u);
    EXPECT_EQ(engine->publish_topic_count(), 2u);
}

TEST_F(PublishEngineTest, PublishRateIsOneBucketPerChannelForEveryone) {
    config.publish_rate = 5;
    config.publish_channels = {"chat", "news"};
    start();
    int accepted = 0, limited = 0;
    for (int i = 0; i < 8; ++i) {
        const auto r = submit(message("chat.lobby", std::to_string(i), "user" + std::to_string(i))).result;
        if (!r.error) ++accepted;
        else if (*r.error == protocol::ErrorCode::rate_limited) ++limited;
    }
    // A burst of one second's worth (5); the test takes far less than the 200 ms a token takes.
    EXPECT_EQ(accepted, 5);
    EXPECT_EQ(limited, 3);
    EXPECT_FALSE(submit(message("news.today", "1")).result.error) << "another channel has its own bucket";
    std::this_thread::sleep_for(250ms);
    EXPECT_FALSE(submit(message("chat.lobby", "late")).result.error) << "refilled";
    EXPECT_EQ(engine->published(PublishedResult::rate_limited), 3u);
}

TEST_F(PublishEngineTest, WhatIsNotARoomOfAPublishableChannelIsForbidden) {
    start();
    for (const char* topic : {"ticker.BTC-USD", "news.lobby", "chat.BTC-USD"}) {
        const auto r = submit(message(topic, "1")).result;
        ASSERT_TRUE(r.error) << topic;
        EXPECT_EQ(*r.error, protocol::ErrorCode::forbidden) << topic;
    }
    EXPECT_EQ(engine->publish_topic_count(), 0u);
}

TEST_F(PublishEngineTest, WithABusThePublisherSequencesAndTheMessageComesBackThroughTheSink) {
    start(/*with_bus=*/true);
    const auto answer = submit(message("chat.lobby", R"({"text":"via bus"})"));
    ASSERT_FALSE(answer.result.error) << answer.result.message;
    EXPECT_EQ(answer.result.seq, 41u) << "the publisher's seq, not the engine's";
    EXPECT_EQ(answer.thread, thread_of(*workers[0]));
    const auto forwarded = bus.forwarded_copy();
    ASSERT_EQ(forwarded.size(), 1u) << "the bus path is taken";
    EXPECT_EQ(forwarded[0].topic, "chat.lobby");
    EXPECT_EQ(forwarded[0].from, "alice");
    EXPECT_EQ(forwarded[0].data, R"({"text":"via bus"})");
    EXPECT_EQ(forwarded[0].seq, 0u);
    ASSERT_TRUE(eventually([&] { return of(*lobby, "chat.lobby").size() == 1; }));
    EXPECT_TRUE(of(*lobby, "chat.lobby")[0].starts_with(R"({"type":"chat","topic":"chat.lobby","seq":41,)"));

    // Another gateway's messages: delivered when above the room's last seq, else dropped.
    auto elsewhere = message("chat.lobby", "\"from afar\"", "bob");
    elsewhere.seq = 42;
    elsewhere.ts_ns = 1;
    bus.from_elsewhere(elsewhere);
    auto replayed = elsewhere;
    replayed.seq = 41;
    bus.from_elsewhere(replayed);
    auto unserved = message("news.lobby", "1", "bob");  // not publishable on this gateway
    unserved.seq = 1;
    bus.from_elsewhere(unserved);
    ASSERT_TRUE(eventually([&] {
        return engine->published(PublishedResult::stale) == 1 && engine->published(PublishedResult::dropped) == 1;
    }));
    ASSERT_TRUE(eventually([&] { return of(*lobby, "chat.lobby").size() == 2; }));
    EXPECT_EQ(of(*lobby, "chat.lobby")[1], v1(elsewhere));

    bus.unreachable = true;
    const auto failed = submit(message("chat.lobby", "1")).result;
    ASSERT_TRUE(failed.error);
    EXPECT_EQ(*failed.error, protocol::ErrorCode::unavailable);
    EXPECT_NE(failed.message.find("no responders"), std::string::npos);
    EXPECT_EQ(engine->published(PublishedResult::unavailable), 1u);
    EXPECT_EQ(engine->published(PublishedResult::delivered), 2u);
}

TEST_F(PublishEngineTest, WithABusARoomPastTheLimitIsRefusedBeforeItIsForwarded) {
    config.max_publish_topics = 1;
    start(/*with_bus=*/true);
    EXPECT_FALSE(submit(message("chat.lobby", "1")).result.error);
    ASSERT_TRUE(eventually([&] { return engine->publish_topic_count() == 1; }));
    const auto r = submit(message("chat.other", "1")).result;
    ASSERT_TRUE(r.error);
    EXPECT_EQ(*r.error, protocol::ErrorCode::too_many_topics);
    EXPECT_EQ(bus.forwarded_copy().size(), 1u);
}

}  // namespace
}  // namespace tickgate::gateway
