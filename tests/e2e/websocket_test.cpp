// One full protocol round trip over wss:// with the Beast client, and the SIGTERM close contract.
#include <gtest/gtest.h>
#include <signal.h>

#include "support/client.hpp"
#include "support/session_helpers.hpp"
#include "support/gateway_process.hpp"
#include "support/json.hpp"

namespace e2e {
namespace {

using Clock = std::chrono::steady_clock;

TEST(WebSocket, WelcomeSubscribeAckSnapshotThenGaplessLiveUpdates) {
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({"--symbols", "5", "--rate", "1000", "--threads", "2"})) << gw.stderr_text();
    EXPECT_EQ(gw.ws_url().rfind("wss://127.0.0.1:", 0), 0u) << gw.ws_url();

    WssClient client;
    ASSERT_TRUE(client.connect(gw.ws_port())) << client.error();
    EXPECT_EQ(client.http_status(), 101);
    EXPECT_FALSE(client.peer_certificate_sha256().empty());

    const auto welcome_text = client.read_text(3s);
    ASSERT_TRUE(welcome_text) << "no welcome: " << client.error();
    const auto welcome = parse_json(*welcome_text);
    ASSERT_FALSE(welcome.HasParseError()) << *welcome_text;
    EXPECT_EQ(json_string(welcome, "type"), "welcome") << *welcome_text;
    EXPECT_FALSE(json_string(welcome, "session").empty()) << *welcome_text;
    EXPECT_EQ(json_string(welcome, "version"), TICKGATE_VERSION) << *welcome_text;
    EXPECT_EQ(json_int(welcome, "heartbeat_ms"), 20000) << *welcome_text;

    ASSERT_TRUE(client.send_text(R"({"op":"subscribe","id":7,"topics":["ticker.BTC-USD"]})")) << client.error();

    const auto ack_text = client.read_text(3s);
    ASSERT_TRUE(ack_text) << client.error();
    const auto ack = parse_json(*ack_text);
    EXPECT_EQ(json_string(ack, "type"), "subscribed") << *ack_text;
    EXPECT_EQ(json_int(ack, "id"), 7) << *ack_text;
    ASSERT_TRUE(ack.IsObject() && ack.HasMember("topics") && ack["topics"].IsArray()) << *ack_text;
    ASSERT_EQ(ack["topics"].Size(), 1u) << *ack_text;
    EXPECT_STREQ(ack["topics"][0].GetString(), "ticker.BTC-USD");

    const auto snap_text = client.read_text(3s);
    ASSERT_TRUE(snap_text) << client.error();
    const auto snap = parse_json(*snap_text);
    EXPECT_EQ(json_string(snap, "type"), "ticker") << *snap_text;
    EXPECT_EQ(json_string(snap, "topic"), "ticker.BTC-USD") << *snap_text;
    EXPECT_EQ(json_bool(snap, "snapshot"), true) << "the first update after the ack must be the snapshot: " << *snap_text;
    for (const char* field : {"bid", "ask", "last", "bid_size", "ask_size", "volume_24h"})
        EXPECT_FALSE(json_string(snap, field).empty()) << field << " missing in " << *snap_text;
    auto prev_seq = json_int(snap, "seq");
    ASSERT_TRUE(prev_seq) << *snap_text;
    auto prev_ts = json_int(snap, "ts").value_or(0);

    int live = 0;
    const auto deadline = Clock::now() + 5s;
    while (live < 20 && Clock::now() < deadline) {
        const auto text = client.read_text(2s);
        ASSERT_TRUE(text) << "after " << live << " live updates: " << client.error();
        const auto u = parse_json(*text);
        ASSERT_EQ(json_string(u, "type"), "ticker") << *text;
        ASSERT_EQ(json_string(u, "topic"), "ticker.BTC-USD") << "only the subscribed topic is delivered: " << *text;
        EXPECT_EQ(json_bool(u, "snapshot"), false) << *text;
        const auto seq = json_int(u, "seq");
        ASSERT_TRUE(seq) << *text;
        ASSERT_EQ(*seq, *prev_seq + 1) << "seq must rise by exactly 1 (no gap, no repeat): " << *text;
        const auto ts = json_int(u, "ts").value_or(0);
        EXPECT_GE(ts, prev_ts) << *text;
        prev_seq = seq;
        prev_ts = ts;
        ++live;
    }
    EXPECT_GE(live, 20);

    client.close(1000);
    EXPECT_TRUE(gw.running());
}

TEST(WebSocket, SigtermClosesClientsWith1001GoingAwayAndExitsZeroWithinTwoSeconds) {
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({"--symbols", "3", "--rate", "500"})) << gw.stderr_text();
    ASSERT_TRUE(topics_of(gw.ws_port(), 3));  // ?subscribe= needs the topic published
    WssClient client;
    ConnectOptions options;
    options.target = "/ws?subscribe=ticker.BTC-USD";
    ASSERT_TRUE(client.connect(gw.ws_port(), options)) << client.error();
    // Welcome, ack, snapshot and some live traffic: the session is fully open.
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(client.read_text(3s)) << client.error();

    const auto signalled = Clock::now();
    gw.signal(SIGTERM);
    // Drain what is still queued until the close frame arrives.
    while (client.read_text(3s)) {
        ASSERT_LT(Clock::now() - signalled, 3s) << "no close frame after SIGTERM";
    }
    EXPECT_TRUE(client.closed());
    EXPECT_EQ(client.close_code(), 1001) << client.error();
    EXPECT_EQ(client.close_reason(), "going away");

    const auto code = gw.wait_exit(3s);
    const auto elapsed = Clock::now() - signalled;
    ASSERT_TRUE(code) << "still running 3 s after SIGTERM";
    EXPECT_EQ(*code, 0) << gw.stderr_text();
    EXPECT_LT(elapsed, 2s) << "took " << std::chrono::duration_cast<Ms>(elapsed).count() << " ms";
}

TEST(WebSocket, SigintOnPlainWsAlsoClosesWith1001AndExitsZero) {
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({"--no-tls", "--symbols", "2"})) << gw.stderr_text();
    WssClient client;
    ConnectOptions options;
    options.tls = false;
    ASSERT_TRUE(client.connect(gw.ws_port(), options)) << client.error();
    ASSERT_TRUE(client.read_text(3s)) << client.error();
    const auto signalled = Clock::now();
    gw.signal(SIGINT);
    while (client.read_text(3s)) ASSERT_LT(Clock::now() - signalled, 3s);
    EXPECT_EQ(client.close_code(), 1001) << client.error();
    EXPECT_EQ(client.close_reason(), "going away");
    EXPECT_EQ(gw.wait_exit(3s), 0) << gw.stderr_text();
    EXPECT_LT(Clock::now() - signalled, 2s);
}

}  // namespace
}  // namespace e2e
