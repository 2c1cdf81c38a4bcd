// Resume through a socketless session (protocol/README.md, "Resume"): a subscribe with since
// replays the history up to where the worker stands, then live continues; what is not recovered
// gets its snapshot; --history-snapshot for trades. The engine's part (append to the history,
// then hand the batch to the worker) is played here by publish().
#include "tests/gateway/session_harness.hpp"

#include <boost/asio/post.hpp>
#include <rapidjson/document.h>

#include "gateway/fanout/frame_encoder.hpp"
#include "gateway/fanout/topic_history.hpp"
#include "protocol/epoch.hpp"

namespace tickgate::gateway::session_test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr std::uint64_t kEpoch = 0x9f3a00000000c0deull;
const std::string kEpochText = protocol::format_epoch(kEpoch);

class Resume : public SessionTest {
protected:
    Resume() {
        config.history = 4;
        config.client_rate = 1000;
        worker.set_history(&history);
    }
    /// The engine's part for one message of `topic` (id): into the history, then to the worker.
    void publish_message(std::uint32_t id, std::string_view topic, protocol::UpdateKind kind, std::uint64_t seq) {
        protocol::MarketUpdate u;
        u.kind = kind;
        u.set_topic(topic);
        u.seq = seq;
        u.ts_ns = 1764090000000000000 + static_cast<std::int64_t>(seq);
        u.price_decimals = 2;
        u.size_decimals = 4;
        u.bid = 6499950;
        u.ask = 6500000;
        u.trade.price = 6499975;
        u.trade.size = 100;
        u.trade.trade_id = 1000 + seq;
        const auto frame = frames::live_update(u, id);
        const std::uint64_t offset = ++offset_;
        history.append(id, kEpoch, seq, seq - 1, offset, frame, 1);
        worker.registry().ensure_topic(id, u);
        worker.registry().note_position(id, seq, offset, kEpoch);
        worker.registry().deliver(id, u, frame, worker.now_ns(), offset);
    }
    void trade(std::uint64_t seq) { publish_message(0, "trade.BTC-USD", protocol::UpdateKind::trade, seq); }
    void ticker(std::uint64_t seq) { publish_message(1, "ticker.BTC-USD", protocol::UpdateKind::ticker, seq); }
    std::shared_ptr<CapturingSession> open(Wire wire) {
        auto s = make(wire);
        s->open();
        s->texts();
        return s;
    }
    /// The "seq" of each text that is a message of `topic`.
    static std::vector<std::uint64_t> seqs(const std::vector<std::string>& texts, std::string_view topic) {
        std::vector<std::uint64_t> out;
        for (const auto& t : texts) {
            const auto json = t.substr(t.find('{'));
            rapidjson::Document d;
            d.Parse(json.data(), json.size());
            if (d.HasParseError() || !d.IsObject() || !d.HasMember("topic") || !d.HasMember("seq")) continue;
            if (std::string_view(d["topic"].GetString()) == topic) out.push_back(d["seq"].GetUint64());
        }
        return out;
    }
    std::string since(std::string_view topics, std::string_view topic, std::string_view epoch, std::uint64_t seq) {
        return R"({"op":"subscribe","id":1,"topics":)" + std::string(topics) + R"(,"since":{")" + std::string(topic) +
               R"(":{"epoch":")" + std::string(epoch) + R"(","seq":)" + std::to_string(seq) + "}}}";
    }

    /// What is queued on the worker's loop (batches, a deferred subscribe), in order.
    void run_queued() {
        worker.io().restart();
        worker.io().poll();
    }

    TopicHistory history{HistoryLimits{4, 1u << 20, 0}};
    std::uint64_t offset_ = 0;
};

TEST_F(Resume, TheAckNamesTheEpochOfEveryTopicItCovers) {
    trade(1);
    ticker(1);
    auto s = open(Wire::v1);
    s->receive(R"({"op":"subscribe","id":1,"topics":["*.BTC-USD"]})");
    const auto texts = s->texts();
    ASSERT_GE(texts.size(), 1u);
    EXPECT_EQ(texts[0], R"({"type":"subscribed","id":1,"topics":["*.BTC-USD"],"epochs":{"trade.BTC-USD":")" +
                            kEpochText + R"(","ticker.BTC-USD":")" + kEpochText + R"("}})");
}

TEST_F(Resume, ATradeTapeResumesWithEveryMissedSeqOnceThenLive) {
    for (std::uint64_t seq = 1; seq <= 5; ++seq) trade(seq);
    auto s = open(Wire::v1);
    s->receive(since(R"(["trade.BTC-USD"])", "trade.BTC-USD", kEpochText, 2));
    auto texts = s->texts();
    ASSERT_EQ(texts.size(), 4u);
    EXPECT_EQ(texts[0], R"({"type":"subscribed","id":1,"topics":["trade.BTC-USD"],"epochs":{"trade.BTC-USD":")" +
                            kEpochText + R"("},"recovered":{"trade.BTC-USD":true}})");
    EXPECT_EQ(seqs(texts, "trade.BTC-USD"), (std::vector<std::uint64_t>{3, 4, 5}));
    // Replayed as they were sent: live messages, no snapshot flag.
    for (std::size_t i = 1; i < texts.size(); ++i) EXPECT_THAT(texts[i], ::testing::Not(HasSubstr("snapshot")));
    trade(6);
    s->flush();
    EXPECT_EQ(seqs(s->texts(), "trade.BTC-USD"), std::vector<std::uint64_t>{6});
}

TEST_F(Resume, AClientUpToDateGetsNothingButTheAck) {
    for (std::uint64_t seq = 1; seq <= 3; ++seq) trade(seq);
    auto s = open(Wire::v1);
    s->receive(since(R"(["trade.*"])", "trade.BTC-USD", kEpochText, 3));
    const auto texts = s->texts();
    ASSERT_EQ(texts.size(), 1u);
    EXPECT_THAT(texts[0], HasSubstr(R"("recovered":{"trade.BTC-USD":true})"));
}

TEST_F(Resume, AStaleEpochIsNotRecoveredAndATradeHasNoSnapshot) {
    for (std::uint64_t seq = 1; seq <= 3; ++seq) trade(seq);
    auto s = open(Wire::v1);
    s->receive(since(R"(["trade.BTC-USD"])", "trade.BTC-USD", "0000000000000001", 1));
    const auto texts = s->texts();
    ASSERT_EQ(texts.size(), 1u);
    EXPECT_THAT(texts[0], HasSubstr(R"("recovered":{"trade.BTC-USD":false})"));
}

TEST_F(Resume, AHistoryThatDoesNotReachBackGivesTheSnapshot) {
    for (std::uint64_t seq = 1; seq <= 10; ++seq) ticker(seq);  // 4 kept: 7..10
    auto s = open(Wire::v1);
    s->receive(since(R"(["ticker.*"])", "ticker.BTC-USD", kEpochText, 5));
    auto texts = s->texts();
    ASSERT_EQ(texts.size(), 2u);
    EXPECT_THAT(texts[0], HasSubstr(R"("recovered":{"ticker.BTC-USD":false})"));
    EXPECT_THAT(texts[1], StartsWith(R"({"type":"ticker","topic":"ticker.BTC-USD","seq":10,)"));
    EXPECT_THAT(texts[1], HasSubstr(R"("snapshot":true)"));
    // From 6 on it reaches: 7..10 replayed.
    auto t = open(Wire::v1);
    t->receive(since(R"(["ticker.BTC-USD"])", "ticker.BTC-USD", kEpochText, 6));
    texts = t->texts();
    EXPECT_THAT(texts[0], HasSubstr(R"("recovered":{"ticker.BTC-USD":true})"));
    EXPECT_EQ(seqs(texts, "ticker.BTC-USD"), (std::vector<std::uint64_t>{7, 8, 9, 10}));
    // A seq the topic has not reached is not recovered either, once what is queued on the worker
    // has run (the subscribe waits for that: see the next test).
    auto u = open(Wire::v1);
    u->receive(since(R"(["ticker.BTC-USD"])", "ticker.BTC-USD", kEpochText, 11));
    EXPECT_TRUE(u->texts().empty()) << "decided after the worker's queued batches";
    run_queued();
    texts = u->texts();
    ASSERT_FALSE(texts.empty());
    EXPECT_THAT(texts[0], HasSubstr(R"("recovered":{"ticker.BTC-USD":false})"));
    EXPECT_EQ(seqs(texts, "ticker.BTC-USD"), std::vector<std::uint64_t>{10});
}

TEST_F(Resume, ASinceAheadOfThisWorkerWaitsForItsQueuedBatchesThenChainsWithoutDuplicates) {
    // The client had seq 4 from another worker; this worker's copies of 4 and 5 are still queued
    // (the engine put them into the history first, as it does).
    for (std::uint64_t seq = 1; seq <= 3; ++seq) trade(seq);
    auto s = open(Wire::v1);
    boost::asio::post(worker.io(), [this] {
        trade(4);
        trade(5);
    });
    s->receive(since(R"(["trade.BTC-USD"])", "trade.BTC-USD", kEpochText, 4));
    run_queued();
    s->flush();
    const auto texts = s->texts();
    ASSERT_FALSE(texts.empty());
    EXPECT_THAT(texts[0], HasSubstr(R"("recovered":{"trade.BTC-USD":true})"));
    EXPECT_EQ(seqs(texts, "trade.BTC-USD"), std::vector<std::uint64_t>{5}) << "4 once (the client had it), 5 once";
    trade(6);
    s->flush();
    EXPECT_EQ(seqs(s->texts(), "trade.BTC-USD"), std::vector<std::uint64_t>{6});
}

TEST_F(Resume, ASinceOnAnEntryAlreadyHeldStillReplays) {
    for (std::uint64_t seq = 1; seq <= 2; ++seq) trade(seq);
    auto s = open(Wire::v1);
    s->receive(R"({"op":"subscribe","id":1,"topics":["trade.*"]})");
    s->texts();
    trade(3);
    trade(4);
    s->flush();
    EXPECT_EQ(seqs(s->texts(), "trade.BTC-USD"), (std::vector<std::uint64_t>{3, 4}));
    s->receive(since(R"(["trade.*"])", "trade.BTC-USD", kEpochText, 1));
    const auto texts = s->texts();
    ASSERT_EQ(texts.size(), 4u);
    EXPECT_EQ(texts[0], R"({"type":"subscribed","id":1,"topics":[],"epochs":{"trade.BTC-USD":")" + kEpochText +
                            R"("},"recovered":{"trade.BTC-USD":true}})");
    EXPECT_EQ(seqs(texts, "trade.BTC-USD"), (std::vector<std::uint64_t>{2, 3, 4}));
}

TEST_F(Resume, SocketIoGetsTheReplayAsLiveEvents) {
    for (std::uint64_t seq = 1; seq <= 3; ++seq) trade(seq);
    auto s = make(Wire::socketio);
    s->open();
    s->receive("40");
    s->texts();
    s->receive(R"(425["subscribe",{"topics":["trade.*"],"since":{"trade.BTC-USD":{"epoch":")" + kEpochText +
               R"(","seq":1}}}])");
    const auto texts = s->texts();
    ASSERT_EQ(texts.size(), 3u);
    EXPECT_EQ(texts[0], R"(435[{"topics":["trade.*"],"epochs":{"trade.BTC-USD":")" + kEpochText +
                            R"("},"recovered":{"trade.BTC-USD":true}}])");
    EXPECT_THAT(texts[1], StartsWith(R"(42["trade",{"type":"trade","topic":"trade.BTC-USD","seq":2,)"));
    EXPECT_THAT(texts[2], StartsWith(R"(42["trade",{"type":"trade","topic":"trade.BTC-USD","seq":3,)"));
}

TEST_F(Resume, AReplayTooLargeForTheQueueIsNotMade) {
    config.max_queue_bytes = 600;  // half: 300 bytes, less than the two trades to replay
    for (std::uint64_t seq = 1; seq <= 3; ++seq) trade(seq);
    auto s = open(Wire::v1);
    s->receive(since(R"(["trade.BTC-USD"])", "trade.BTC-USD", kEpochText, 1));
    const auto texts = s->texts();
    ASSERT_EQ(texts.size(), 1u);
    EXPECT_THAT(texts[0], HasSubstr(R"("recovered":{"trade.BTC-USD":false})"));
    EXPECT_FALSE(s->closing());
}

TEST_F(Resume, HistorySnapshotSendsTheLastKTradesAsSnapshots) {
    config.history_snapshot = 2;
    for (std::uint64_t seq = 1; seq <= 5; ++seq) trade(seq);
    auto s = open(Wire::v1);
    s->receive(R"({"op":"subscribe","id":1,"topics":["trade.*"]})");
    auto texts = s->texts();
    ASSERT_EQ(texts.size(), 3u);
    EXPECT_EQ(seqs(texts, "trade.BTC-USD"), (std::vector<std::uint64_t>{4, 5}));
    EXPECT_THAT(texts[1], HasSubstr(R"("ts":1764090000000000004,"snapshot":true,"trade_id":1004,)"));
    auto io = make(Wire::socketio);
    io->open();
    io->receive("40");
    io->texts();
    io->receive(R"(42["subscribe","trade.BTC-USD"])");
    texts = io->texts();
    ASSERT_EQ(texts.size(), 3u);
    EXPECT_THAT(texts[2], StartsWith(R"(42["trade",{"type":"trade","topic":"trade.BTC-USD","seq":5,)"));
    EXPECT_THAT(texts[2], HasSubstr(R"("snapshot":true)"));
}

}  // namespace
}  // namespace tickgate::gateway::session_test
