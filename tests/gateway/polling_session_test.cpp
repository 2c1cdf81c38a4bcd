// The long-polling transport without sockets: requests go in as PollingRequests, responses come
// back through PollingReply on the worker's io_context, which the test runs itself.
#include "gateway/session/polling_session.hpp"

#include "gateway/fanout/frame_encoder.hpp"
#include "tests/gateway/session_harness.hpp"

namespace tickgate::gateway::session_test {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

struct Response {
    std::string bytes;
    bool keep_alive = false;
    std::string body() const { return bytes.substr(bytes.find("\r\n\r\n") + 4); }
};

class PollingTest : public SessionTest {
protected:
    void SetUp() override { publish(0, "ticker.BTC-USD", 7); }

    PollingReply reply() {
        return PollingReply(worker.io(), [this](std::string bytes, bool keep_alive) {
            responses.push_back({std::move(bytes), keep_alive});
        });
    }
    static PollingRequest request(PollingRequest::Method method, std::string body = {}) {
        PollingRequest r;
        r.method = method;
        r.body = std::move(body);
        r.peer = "127.0.0.1:6000";
        return r;
    }
    /// Runs what is queued on the worker and returns the responses delivered meanwhile.
    std::vector<Response> run() {
        worker.io().restart();
        worker.io().poll();
        return std::exchange(responses, {});
    }
    std::shared_ptr<PollingSession> open() {
        auto s = std::make_shared<PollingSession>(worker, polling, ConnectionSlot(), "127.0.0.1:6000");
        worker.attach(s);
        s->start(request(PollingRequest::Method::get), reply());
        return s;
    }
    void get(PollingSession& s) { s.on_get(request(PollingRequest::Method::get), reply()); }
    void post(PollingSession& s, std::string body) { s.on_post(request(PollingRequest::Method::post, body), reply()); }

    std::vector<Response> responses;
};

TEST_F(PollingTest, TheHandshakeGetCarriesTheOpenPacketOfferingTheUpgrade) {
    auto s = open();
    const auto got = run();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_THAT(got[0].bytes, StartsWith("HTTP/1.1 200 OK\r\n"));
    EXPECT_EQ(got[0].body(), "0{\"sid\":\"" + s->id() +
                                 "\",\"upgrades\":[\"websocket\"],\"pingInterval\":20000,\"pingTimeout\":20000,"
                                 "\"maxPayload\":4096}");
    EXPECT_EQ(polling.owner(s->id()), &worker);
}

TEST_F(PollingTest, PostedPacketsAreAnsweredOkAndTheirRepliesGoOutJoinedInTheNextGet) {
    auto s = open();
    run();
    post(*s, "40\x1e" R"(421["subscribe",["ticker.BTC-USD"]])");
    auto got = run();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].body(), "ok");
    get(*s);
    got = run();
    ASSERT_EQ(got.size(), 1u);
    const auto body = got[0].body();
    EXPECT_THAT(body, StartsWith("40{\"sid\":\"" + s->id() + "\"}\x1e" R"(42["welcome",)"));
    EXPECT_THAT(body, HasSubstr("\x1e" R"(431[{"topics":["ticker.BTC-USD"]}])" "\x1e" R"(42["ticker",)"));
}

TEST_F(PollingTest, AGetIsHeldUntilThereIsSomethingToSend) {
    auto s = open();
    run();
    get(*s);
    EXPECT_TRUE(run().empty());
    s->on_status(frames::status(R"({"type":"status","feed":"sim","state":"stale","message":"x"})"));
    const auto got = run();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_THAT(got[0].body(), StartsWith(R"(42["status",{"type":"status")"));
}

TEST_F(PollingTest, AnOverlappingGetIsRefusedAndTheHeldOneCarriesTheClosePacket) {
    auto s = open();
    run();
    post(*s, "40");
    get(*s);  // answered at once: the CONNECT reply is queued
    run();
    get(*s);
    get(*s);
    const auto got = run();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_THAT(got[0].bytes, StartsWith("HTTP/1.1 400 Bad Request\r\n"));
    EXPECT_EQ(got[1].body(), "1");
    EXPECT_EQ(worker.stats().socketio_malformed.get(), 1u);
    EXPECT_EQ(polling.owner(s->id()), nullptr);  // finished: out of the directory
}

TEST_F(PollingTest, ABodyOverMaxPayloadIs413AndEndsTheSession) {
    auto s = open();
    run();
    post(*s, "4" + std::string(5000, 'x'));
    const auto got = run();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_THAT(got[0].bytes, StartsWith("HTTP/1.1 413 Payload Too Large\r\n"));
    EXPECT_FALSE(s->is_open());
}

TEST_F(PollingTest, AMalformedBodyIs400AndClosesTheSession) {
    auto s = open();
    run();
    post(*s, "40\x1e" "9");
    const auto got = run();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_THAT(got[0].bytes, StartsWith("HTTP/1.1 400 Bad Request\r\n"));
    EXPECT_FALSE(s->is_open());
}

TEST_F(PollingTest, AProbeTakesTheSessionOverWithItsIdAndSubscriptions) {
    auto s = open();
    run();
    post(*s, "40\x1e" R"(42["subscribe",["ticker.BTC-USD"]])");
    get(*s);
    run();
    const std::string sid = s->id();
    get(*s);  // held
    auto probe = make(Wire::socketio);
    probe->open(sid);
    ASSERT_TRUE(probe->is_probe());
    probe->receive("2probe");
    EXPECT_EQ(probe->texts(), std::vector<std::string>{"3probe"});
    auto got = run();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].body(), "6");  // the held GET returns so the client can switch
    probe->receive("5");
    EXPECT_FALSE(probe->is_probe());
    EXPECT_EQ(probe->id(), sid);
    EXPECT_EQ(probe->membership().entries, std::vector<std::string>{"ticker.BTC-USD"});
    EXPECT_TRUE(s->membership().entries.empty());
    EXPECT_EQ(polling.owner(sid), nullptr);
    // A second probe for the same sid finds nothing to upgrade.
    auto late = make(Wire::socketio);
    late->open(sid);
    EXPECT_EQ(late->close_code(), 1008);
}

TEST_F(PollingTest, OneProbeAtATimeAndAnAbandonedProbeGivesTheSessionBack) {
    auto s = open();
    run();
    auto first = make(Wire::socketio);
    first->open(s->id());
    ASSERT_TRUE(first->is_probe());
    auto second = make(Wire::socketio);
    second->open(s->id());
    EXPECT_EQ(second->close_code(), 1008);
    first->close(1000, "", true);  // the client gave up on the WebSocket
    auto third = make(Wire::socketio);
    third->open(s->id());
    EXPECT_TRUE(third->is_probe());
}

}  // namespace
}  // namespace tickgate::gateway::session_test
