// Socket.IO over Engine.IO through a socketless session: the open packet, CONNECT, events mapped
// to requests, acks with their errors, socket.send() messages, and the packets that close.
#include "tests/gateway/session_harness.hpp"

namespace tickgate::gateway::session_test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class SocketIoSession : public SessionTest {
protected:
    void SetUp() override {
        publish(0, "ticker.BTC-USD", 7);
        session = make(Wire::socketio);
        session->open();
    }
    void connect() {
        session->receive("40");
        session->texts();
    }
    std::shared_ptr<CapturingSession> session;
};

TEST_F(SocketIoSession, OpensWithTheEngineIoHandshake) {
    const auto texts = session->texts();
    ASSERT_EQ(texts.size(), 1u);
    EXPECT_EQ(texts[0], "0{\"sid\":\"" + session->id() +
                            "\",\"upgrades\":[],\"pingInterval\":20000,\"pingTimeout\":20000,\"maxPayload\":4096}");
}

TEST_F(SocketIoSession, ConnectIsAnsweredThenWelcomed) {
    session->texts();
    session->receive("40");
    const auto texts = session->texts();
    ASSERT_EQ(texts.size(), 2u);
    EXPECT_EQ(texts[0], "40{\"sid\":\"" + session->id() + "\"}");
    EXPECT_THAT(texts[1], StartsWith(R"j(42["welcome",{"type":"welcome","session":")j"));
    session->receive("40");  // a second CONNECT is ignored
    EXPECT_TRUE(session->texts().empty());
}

TEST_F(SocketIoSession, AnotherNamespaceIsRefusedAndTheSessionStays) {
    session->texts();
    session->receive("40/admin,");
    EXPECT_THAT(session->texts(), ElementsAre(R"j(44/admin,{"message":"Invalid namespace"})j"));
    EXPECT_FALSE(session->closing());
}

TEST_F(SocketIoSession, SubscribeWithAnAckGetsTheAckThenTheSnapshotEvent) {
    connect();
    session->receive(R"j(4212["subscribe",["ticker.BTC-USD","ticker.NOPE-USD"]])j");
    const auto texts = session->texts();
    ASSERT_EQ(texts.size(), 2u);
    // The error travels inside the ack, not as an event.
    EXPECT_EQ(texts[0], R"j(4312[{"topics":["ticker.BTC-USD"],"error":{"code":"unknown_topic","message":)j"
                        R"j("no feed publishes this topic; see op list","topics":["ticker.NOPE-USD"]}}])j");
    EXPECT_THAT(texts[1], StartsWith(R"j(42["ticker",{"type":"ticker","topic":"ticker.BTC-USD","seq":7,)j"));
}

TEST_F(SocketIoSession, NothingAcceptedStillGetsItsAck) {
    connect();
    session->receive(R"j(425["subscribe",["ticker.NOPE-USD"]])j");
    EXPECT_THAT(session->texts(), ElementsAre(R"j(435[{"error":{"code":"unknown_topic","message":"no feed publishes )j"
                                              R"j(this topic; see op list","topics":["ticker.NOPE-USD"]}}])j"));
    session->receive(R"j(426["subscribe",42])j");  // an argument of the wrong type: a rejected request
    const auto texts = session->texts();
    ASSERT_EQ(texts.size(), 1u);
    EXPECT_THAT(texts[0], StartsWith(R"j(436[{"error":{"code":"bad_request")j"));
}

TEST_F(SocketIoSession, WithoutAnAckRepliesAreEventsNamedAfterTheirType) {
    connect();
    session->receive(R"j(42["subscribe","ticker.BTC-USD"])j");
    auto texts = session->texts();
    ASSERT_EQ(texts.size(), 2u);
    EXPECT_EQ(texts[0], R"j(42["subscribed",{"type":"subscribed","topics":["ticker.BTC-USD"]}])j");
    session->receive(R"j(42["list"])j");
    EXPECT_THAT(session->texts(), ElementsAre(R"j(42["topics",{"type":"topics","topics":["ticker.BTC-USD"]}])j"));
    session->receive(R"j(427["list"])j");
    EXPECT_THAT(session->texts(), ElementsAre(R"j(437[{"topics":["ticker.BTC-USD"]}])j"));
    session->receive(R"j(428["ping"])j");
    texts = session->texts();
    ASSERT_EQ(texts.size(), 1u);
    EXPECT_THAT(texts[0], StartsWith(R"j(438[{"ts":)j"));
}

TEST_F(SocketIoSession, SendMessagesAreV1RequestsAnsweredWithMessageEvents) {
    connect();
    session->receive(R"j(429["message",{"op":"subscribe","id":9,"topics":["ticker.BTC-USD"]}])j");
    const auto texts = session->texts();
    ASSERT_EQ(texts.size(), 2u);
    // socket.send() never gets an ack, even with an ack id: the v1 object comes back as "message".
    EXPECT_EQ(texts[0], R"j(42["message",{"type":"subscribed","id":9,"topics":["ticker.BTC-USD"]}])j");
    session->receive(R"j(42["message",{"op":"nope","id":10}])j");
    const auto error = session->texts();
    ASSERT_EQ(error.size(), 1u);
    EXPECT_THAT(error[0], StartsWith(R"j(42["message",{"type":"error","id":10,"code":"bad_request")j"));
}

TEST_F(SocketIoSession, AnUnknownEventIsABadRequestEvent) {
    connect();
    session->receive(R"j(42["subscrbe",["ticker.BTC-USD"]])j");
    const auto texts = session->texts();
    ASSERT_EQ(texts.size(), 1u);
    EXPECT_THAT(texts[0], StartsWith(R"j(42["error",{"type":"error","code":"bad_request")j"));
    EXPECT_FALSE(session->closing());
}

TEST_F(SocketIoSession, AnEventBeforeConnectClosesWith1002) {
    session->receive(R"j(42["list"])j");
    EXPECT_TRUE(session->closing());
    EXPECT_EQ(session->close_code(), 1002);
    EXPECT_EQ(worker.stats().socketio_malformed.get(), 1u);
}

TEST_F(SocketIoSession, MalformedPacketsAndBinaryCloseWith1002) {
    for (std::string_view bad : {"9", "4x", "42[oops"}) {
        auto s = make(Wire::socketio);
        s->open();
        s->receive("40");
        s->receive(bad);
        EXPECT_EQ(s->close_code(), 1002) << bad;
    }
    auto s = make(Wire::socketio);
    s->open();
    s->receive_binary();
    EXPECT_EQ(s->close_code(), 1002);
}

TEST_F(SocketIoSession, TheClientsCloseAndDisconnectAreOrderlyCloses) {
    session->receive("1");
    EXPECT_EQ(session->close_code(), 1000);
    auto s = make(Wire::socketio);
    s->open();
    s->receive("40");
    s->receive("41");
    EXPECT_EQ(s->close_code(), 1000);
}

TEST_F(SocketIoSession, AProbeForAnUnknownSidIsRefused) {
    auto probe = make(Wire::socketio);
    probe->open("0123456789abcdef");
    EXPECT_TRUE(probe->closing());
    EXPECT_EQ(probe->close_code(), 1008);
    EXPECT_FALSE(probe->is_probe());
}

}  // namespace
}  // namespace tickgate::gateway::session_test
