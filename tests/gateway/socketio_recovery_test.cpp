// Socket.IO connection state recovery through socketless sessions on one worker with a history:
// the pid in the CONNECT reply, offsets on live events, a lost session kept and recovered by a new
// one (same pid, the missed events in offset order, then live), and the refusals.
#include "gateway/session/socketio_recovery.hpp"

#include "gateway/fanout/frame_encoder.hpp"
#include "gateway/fanout/topic_history.hpp"
#include "gateway/session/recovery_store.hpp"
#include "tests/gateway/session_harness.hpp"

namespace tickgate::gateway::session_test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class SocketIoRecoveryTest : public SessionTest {
protected:
    SocketIoRecoveryTest() {
        worker.set_history(&history);
        worker.set_recovery_store(&store);
        // Trades: no latest value, so no snapshot on subscribe.
        worker.registry().ensure_topic(0, "trade.BTC-USD", protocol::UpdateKind::trade);
        worker.registry().ensure_topic(1, "trade.ETH-USD", protocol::UpdateKind::trade);
    }
    /// A message as the engine hands it out: into the history first, then to the worker.
    void send(std::uint32_t id, std::uint64_t seq, std::uint64_t offset) {
        protocol::MarketUpdate u;
        u.kind = protocol::UpdateKind::trade;
        u.set_topic(worker.registry().topic(id).name);
        u.seq = seq;
        u.ts_ns = 1764090000000000000 + static_cast<std::int64_t>(seq);
        u.price_decimals = 2;
        u.size_decimals = 4;
        auto frame = frames::live_update(u, id);
        history.append(id, 1, seq, seq - 1, offset, frame, worker.now_ns());
        worker.registry().note_position(id, seq, offset, 1);
        worker.registry().deliver(id, u, frame, worker.now_ns(), offset);
        worker.registry().flush_dirty([](Subscriber& s) { s.on_delivered(); });
    }
    std::shared_ptr<CapturingSession> connected(std::string_view connect = "40") {
        auto s = make(Wire::socketio);
        s->open();
        s->texts();
        s->receive(connect);
        return s;
    }
    /// The pid of a CONNECT reply.
    static std::string pid_of(const std::string& reply) {
        const auto at = reply.find("\"pid\":\"");
        if (at == std::string::npos) return {};
        return reply.substr(at + 7, reply.find('"', at + 7) - at - 7);
    }
    static std::string claim(const std::string& pid, std::uint64_t offset) {
        return R"(40{"pid":")" + pid + R"(","offset":")" + std::to_string(offset) + "\"}";
    }

    TopicHistory history{HistoryLimits{100, 1 << 20, 0}};
    RecoveryStore store{60'000, 100};
};

TEST_F(SocketIoRecoveryTest, TheConnectReplyHasAPidAndLiveEventsTheirOffset) {
    auto a = connected();
    const auto texts = a->texts();
    ASSERT_GE(texts.size(), 2u);
    EXPECT_THAT(texts[0], StartsWith("40{\"sid\":\"" + a->id() + "\",\"pid\":\""));
    EXPECT_EQ(pid_of(texts[0]).size(), 32u);
    a->receive(R"(4212["subscribe",["trade.*"]])");
    EXPECT_THAT(a->texts(), ElementsAre(R"(4312[{"topics":["trade.*"]}])")) << "no snapshot for trades, no offset on an ack";
    send(0, 1, 1);
    const auto live = a->texts();
    ASSERT_EQ(live.size(), 1u);
    EXPECT_THAT(live[0], StartsWith(R"(42["trade",{"type":"trade","topic":"trade.BTC-USD","seq":1,)"));
    EXPECT_THAT(live[0], HasSubstr(R"(},"1"])"));
}

TEST_F(SocketIoRecoveryTest, ALostSessionIsRecoveredWithTheMissedEventsInOffsetOrderThenLive) {
    auto a = connected();
    const std::string pid = pid_of(a->texts()[0]);
    a->receive(R"(42["subscribe",["trade.*"]])");
    a->texts();
    send(0, 1, 1);
    send(1, 1, 2);
    EXPECT_EQ(a->texts().size(), 2u);
    send(0, 2, 3);  // queued for a, never read by its client: its last event was offset 2
    a->lose_connection();
    EXPECT_EQ(store.size(), 1u);
    send(1, 2, 4);
    send(0, 3, 5);

    auto b = connected(claim(pid, 2));
    const auto texts = b->texts();
    ASSERT_EQ(texts.size(), 5u) << ::testing::PrintToString(texts);
    EXPECT_EQ(texts[0], "40{\"sid\":\"" + b->id() + "\",\"pid\":\"" + pid + "\"}") << "the same pid";
    EXPECT_THAT(texts[1], StartsWith(R"(42["welcome",)"));
    EXPECT_THAT(texts[2], AllOf(HasSubstr(R"("topic":"trade.BTC-USD","seq":2,)"), HasSubstr(R"(},"3"])")));
    EXPECT_THAT(texts[3], AllOf(HasSubstr(R"("topic":"trade.ETH-USD","seq":2,)"), HasSubstr(R"(},"4"])")));
    EXPECT_THAT(texts[4], AllOf(HasSubstr(R"("topic":"trade.BTC-USD","seq":3,)"), HasSubstr(R"(},"5"])")));
    EXPECT_EQ(store.size(), 0u);
    EXPECT_EQ(b->membership().entries, std::vector<std::string>{"trade.*"});
    send(1, 3, 6);
    EXPECT_THAT(b->texts(), ElementsAre(AllOf(HasSubstr(R"("seq":3,)"), HasSubstr(R"(},"6"])")))) << "then live";
    EXPECT_EQ(store.counts().recovered, 1u);
}

TEST_F(SocketIoRecoveryTest, TheClientsDisconnectKeepsNothing) {
    auto a = connected();
    a->receive(R"(42["subscribe",["trade.*"]])");
    a->receive("41");
    EXPECT_EQ(store.size(), 0u);
    auto c = connected();
    c->receive("1");  // the transport's close packet: recoverable
    EXPECT_EQ(store.size(), 1u);
}

TEST_F(SocketIoRecoveryTest, ASubscribeAfterTheLastEventDoesNotReplayWhatCameBeforeIt) {
    auto a = connected();
    const std::string pid = pid_of(a->texts()[0]);
    a->receive(R"(42["subscribe",["trade.BTC-USD"]])");
    send(0, 1, 1);
    send(1, 1, 2);  // not subscribed yet
    a->receive(R"(42["subscribe",["trade.ETH-USD"]])");
    a->texts();
    a->lose_connection();
    auto b = connected(claim(pid, 1));
    const auto texts = b->texts();
    ASSERT_EQ(texts.size(), 2u) << "the CONNECT reply and the welcome, no replay: " << ::testing::PrintToString(texts);
    EXPECT_EQ(pid_of(texts[0]), pid);
}

TEST_F(SocketIoRecoveryTest, AHistoryThatDoesNotReachBackRestoresWithANewPid) {
    TopicHistory small{HistoryLimits{1, 1 << 20, 0}};
    worker.set_history(&small);
    auto a = connected();
    const std::string pid = pid_of(a->texts()[0]);
    a->receive(R"(42["subscribe",["trade.BTC-USD"]])");
    a->texts();
    a->lose_connection();
    for (std::uint64_t seq = 1; seq <= 3; ++seq) {
        protocol::MarketUpdate u;
        u.kind = protocol::UpdateKind::trade;
        u.set_topic("trade.BTC-USD");
        u.seq = seq;
        small.append(0, 1, seq, seq - 1, seq, frames::live_update(u, 0), worker.now_ns());
        worker.registry().note_position(0, seq, seq, 1);
    }
    auto b = connected(claim(pid, 1));
    const auto texts = b->texts();
    ASSERT_GE(texts.size(), 3u);
    EXPECT_NE(pid_of(texts[0]), pid);
    EXPECT_EQ(pid_of(texts[0]).size(), 32u);
    EXPECT_EQ(texts.back(),
              R"(42["subscribed",{"type":"subscribed","topics":["trade.BTC-USD"],"epochs":{"trade.BTC-USD":"0000000000000001"}}])")
        << "the subscriptions come back as the client had asked for them";
    EXPECT_EQ(store.counts().restored, 1u);
}

TEST_F(SocketIoRecoveryTest, AnUnknownPidGetsAFreshSession) {
    auto b = connected(claim("0123456789abcdef0123456789abcdef", 5));
    const auto texts = b->texts();
    EXPECT_NE(pid_of(texts[0]), "0123456789abcdef0123456789abcdef");
    EXPECT_TRUE(b->membership().entries.empty());
    EXPECT_EQ(store.counts().refused, 1u);
}

}  // namespace
}  // namespace tickgate::gateway::session_test
