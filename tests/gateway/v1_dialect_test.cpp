// Protocol v1 through a socketless session: the welcome, requests and their answers, snapshots,
// errors, the rate limit (protocol/README.md).
#include "tests/gateway/session_harness.hpp"

#include "protocol/messages.hpp"

namespace tickgate::gateway::session_test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class V1Session : public SessionTest {
protected:
    void SetUp() override {
        publish(0, "ticker.BTC-USD", 7);
        publish(1, "ticker.ETH-USD", 3);
        session = make(Wire::v1);
        session->open();
    }
    std::shared_ptr<CapturingSession> session;
};

TEST_F(V1Session, GreetsWithItsIdVersionAndHeartbeat) {
    const auto texts = session->texts();
    ASSERT_EQ(texts.size(), 1u);
    EXPECT_EQ(texts[0], "{\"type\":\"welcome\",\"session\":\"" + session->id() + "\",\"version\":\"" +
                            TICKGATE_VERSION + "\",\"heartbeat_ms\":20000}");
}

TEST_F(V1Session, SubscribeIsAckedThenSnapshotted) {
    session->texts();
    session->receive(R"j({"op":"subscribe","id":1,"topics":["ticker.BTC-USD"]})j");
    const auto texts = session->texts();
    ASSERT_EQ(texts.size(), 2u);
    EXPECT_EQ(texts[0], R"j({"type":"subscribed","id":1,"topics":["ticker.BTC-USD"]})j");
    EXPECT_THAT(texts[1], StartsWith(R"j({"type":"ticker","topic":"ticker.BTC-USD","seq":7,)j"));
    EXPECT_THAT(texts[1], HasSubstr(R"j("snapshot":true)j"));
    EXPECT_EQ(session->membership().entries, std::vector<std::string>{"ticker.BTC-USD"});
}

TEST_F(V1Session, APatternAndATopicCoveringOneTopicSnapshotItOnce) {
    session->texts();
    session->receive(R"j({"op":"subscribe","id":1,"topics":["ticker.BTC-USD","*.BTC-USD"]})j");
    const auto texts = session->texts();
    ASSERT_EQ(texts.size(), 2u);
    EXPECT_EQ(texts[0], R"j({"type":"subscribed","id":1,"topics":["ticker.BTC-USD","*.BTC-USD"]})j");
}

TEST_F(V1Session, ErrorsNameTheEntriesAndAnAcceptedPartIsStillAcked) {
    session->texts();
    session->receive(R"j({"op":"subscribe","id":"a","topics":["ticker.NOPE-USD","not a topic","ticker.ETH-USD"]})j");
    const auto texts = session->texts();
    ASSERT_EQ(texts.size(), 4u);
    EXPECT_EQ(texts[0], R"j({"type":"error","id":"a","code":"bad_request","message":"not a topic (channel.SYMBOL-QUOTE) )j"
                        R"j(or pattern (* for a segment)","topics":["not a topic"]})j");
    EXPECT_EQ(texts[1], R"j({"type":"error","id":"a","code":"unknown_topic","message":"no feed publishes this topic; )j"
                        R"j(see op list","topics":["ticker.NOPE-USD"]})j");
    EXPECT_EQ(texts[2], R"j({"type":"subscribed","id":"a","topics":["ticker.ETH-USD"]})j");
    EXPECT_THAT(texts[3], StartsWith(R"j({"type":"ticker","topic":"ticker.ETH-USD","seq":3,)j"));
}

TEST_F(V1Session, NothingValidGetsNoAck) {
    session->texts();
    session->receive(R"j({"op":"subscribe","id":2,"topics":["ticker.NOPE-USD"]})j");
    const auto texts = session->texts();
    ASSERT_EQ(texts.size(), 1u);
    EXPECT_THAT(texts[0], HasSubstr(R"j("code":"unknown_topic")j"));
}

TEST_F(V1Session, TooManySubscriptions) {
    config.max_subscriptions = 1;
    session->texts();
    session->receive(R"j({"op":"subscribe","id":3,"topics":["ticker.BTC-USD","ticker.ETH-USD"]})j");
    const auto texts = session->texts();
    ASSERT_GE(texts.size(), 2u);
    EXPECT_EQ(texts[0], R"j({"type":"error","id":3,"code":"too_many_subscriptions","message":"at most 1 )j"
                        R"j(subscriptions per connection","topics":["ticker.ETH-USD"]})j");
    EXPECT_EQ(texts[1], R"j({"type":"subscribed","id":3,"topics":["ticker.BTC-USD"]})j");
}

TEST_F(V1Session, UnsubscribeListAndPing) {
    session->receive(R"j({"op":"subscribe","id":1,"topics":["ticker.*"]})j");
    session->texts();
    session->receive(R"j({"op":"unsubscribe","id":2,"topics":["ticker.*","ticker.BTC-USD"]})j");
    EXPECT_THAT(session->texts(), ElementsAre(R"j({"type":"unsubscribed","id":2,"topics":["ticker.*"]})j"));
    EXPECT_TRUE(session->membership().entries.empty());
    session->receive(R"j({"op":"list","id":3})j");
    EXPECT_THAT(session->texts(), ElementsAre(R"j({"type":"topics","id":3,"topics":["ticker.BTC-USD","ticker.ETH-USD"]})j"));
    session->receive(R"j({"op":"ping","id":4})j");
    const auto pong = session->texts();
    ASSERT_EQ(pong.size(), 1u);
    EXPECT_THAT(pong[0], StartsWith(R"j({"type":"pong","id":4,"ts":)j"));
}

TEST_F(V1Session, BadJsonAndBinaryFramesAreBadRequestsAndTheSessionStaysOpen) {
    session->texts();
    session->receive("{not json");
    session->receive_binary();
    const auto texts = session->texts();
    ASSERT_EQ(texts.size(), 2u);
    EXPECT_THAT(texts[0], HasSubstr(R"j("code":"bad_request")j"));
    EXPECT_EQ(texts[1], R"j({"type":"error","code":"bad_request","message":"binary frames are not supported; )j"
                        R"j(send JSON text frames"})j");
    EXPECT_FALSE(session->closing());
    EXPECT_EQ(worker.stats().client_errors[static_cast<int>(protocol::ErrorCode::bad_request)].get(), 2u);
}

TEST_F(V1Session, PastTheRateItIsToldThenClosedWith1008) {
    session->texts();
    // client_rate 5: a burst of 10 passes, then rate_limited, and past 5 more refusals a close.
    for (int i = 0; i < 10; ++i) session->receive(R"j({"op":"ping"})j");
    EXPECT_EQ(session->texts().size(), 10u);
    for (int i = 0; i < 5; ++i) session->receive(R"j({"op":"ping"})j");
    const auto refused = session->texts();
    ASSERT_EQ(refused.size(), 5u);
    EXPECT_EQ(refused[0], R"j({"type":"error","code":"rate_limited","message":"more than 5 messages per second"})j");
    EXPECT_FALSE(session->closing());
    session->receive(R"j({"op":"ping"})j");
    EXPECT_TRUE(session->closing());
    EXPECT_EQ(session->close_code(), 1008);
}

TEST_F(V1Session, TheUpgradeRequestsSubscribeListIsSubscribedAtOpen) {
    auto other = make(Wire::v1);
    other->open("ticker.ETH-USD,,ticker.NOPE-USD");
    const auto texts = other->texts();
    ASSERT_EQ(texts.size(), 4u);
    EXPECT_THAT(texts[1], HasSubstr(R"j("code":"unknown_topic")j"));
    EXPECT_EQ(texts[2], R"j({"type":"subscribed","topics":["ticker.ETH-USD"]})j");
    EXPECT_THAT(texts[3], HasSubstr(R"j("topic":"ticker.ETH-USD")j"));
}

TEST_F(V1Session, ASnapshotThatDoesNotFitClosesAsASlowConsumer) {
    config.max_queue_bytes = 300;  // the welcome fits, the ack too, not the snapshots
    auto small = make(Wire::v1);
    small->open();
    small->receive(R"j({"op":"subscribe","id":1,"topics":["ticker.*"]})j");
    EXPECT_TRUE(small->closing());
    EXPECT_EQ(small->close_code(), 1008);
}

}  // namespace
}  // namespace tickgate::gateway::session_test
