// The HTTP contract of the WebSocket port (/healthz, /readyz, 404, 426, Origin checks, connection
// limits, handshake timeout, garbage input) and the feed-health/metrics side effects users see.
#include <gtest/gtest.h>

#include <sstream>

#include "support/client.hpp"
#include "support/gateway_process.hpp"
#include "support/json.hpp"
#include "support/session_helpers.hpp"

namespace e2e {
namespace {

using Clock = std::chrono::steady_clock;

/// One protocol v1 update line for a replay file.
std::string update_line(const std::string& topic, long long ts_ns) {
    return R"({"type":"ticker","topic":")" + topic + R"(","seq":1,"ts":)" + std::to_string(ts_ns) +
           R"(,"snapshot":false,"bid":"64999.50","bid_size":"0.2500","ask":"65000.00","ask_size":"1.1000",)"
           R"("last":"64999.75","last_size":"0.0100","open_24h":"63000.00","high_24h":"65100.00",)"
           R"("low_24h":"62900.00","volume_24h":"1234.5678"})"
           "\n";
}

/// `lines` updates cycling over `topics`, 5 ms apart.
std::string replay_file(const std::vector<std::string>& topics, int lines) {
    std::string out;
    const long long t0 = 1764090000000000000LL;
    for (int i = 0; i < lines; ++i) out += update_line(topics[static_cast<std::size_t>(i) % topics.size()], t0 + i * 5'000'000LL);
    return out;
}

std::string scrape(const GatewayProcess& gw) {
    HttpOptions plain;
    plain.tls = false;
    const auto r = http_get(gw.metrics_port(), "/metrics", plain);
    return r.status == 200 ? r.body : "";
}

/// Polls the metrics until `pred(exposition)` holds or the timeout passes; returns the last scrape.
template <class Pred>
std::string scrape_until(const GatewayProcess& gw, Pred pred, Ms timeout = 3s) {
    const auto deadline = Clock::now() + timeout;
    std::string text;
    do {
        text = scrape(gw);
        if (pred(text)) break;
        std::this_thread::sleep_for(50ms);
    } while (Clock::now() < deadline);
    return text;
}

ConnectOptions from(const std::string& source) {
    ConnectOptions o;
    o.bind_address = source;
    return o;
}

ConnectOptions with_origin(const std::string& origin) {
    ConnectOptions o;
    if (!origin.empty()) o.headers.emplace_back("Origin", origin);
    return o;
}

/// Connects and reads the welcome: the session is fully open.
::testing::AssertionResult open_session(WssClient& client, int port, const ConnectOptions& options = {}) {
    if (!client.connect(port, options))
        return ::testing::AssertionFailure() << "connect failed: HTTP " << client.http_status() << ", " << client.error();
    const auto welcome = client.read_text(3s);
    if (!welcome || message_type(*welcome) != "welcome")
        return ::testing::AssertionFailure() << "no welcome: " << client.error();
    return ::testing::AssertionSuccess();
}

/// Retries a connection for up to `timeout` (a slot is freed once the server has closed the socket).
::testing::AssertionResult eventually_open(std::unique_ptr<WssClient>& client, int port, const ConnectOptions& options,
                                           Ms timeout) {
    const auto deadline = Clock::now() + timeout;
    std::string last;
    while (Clock::now() < deadline) {
        auto attempt = std::make_unique<WssClient>();
        if (open_session(*attempt, port, options)) {
            client = std::move(attempt);
            return ::testing::AssertionSuccess();
        }
        last = "HTTP " + std::to_string(attempt->http_status()) + " " + attempt->error();
        std::this_thread::sleep_for(50ms);
    }
    return ::testing::AssertionFailure() << "never admitted; last attempt: " << last;
}

TEST(Http, HealthzReportsEveryFeedAsJson) {
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({"--symbols", "3"})) << gw.stderr_text();
    std::this_thread::sleep_for(100ms);
    const auto r = http_get(gw.ws_port(), "/healthz");
    ASSERT_EQ(r.status, 200) << r.error << r.body;
    EXPECT_NE(r.header("Content-Type").find("application/json"), std::string::npos) << r.header("Content-Type");
    const auto doc = parse_json(r.body);
    ASSERT_FALSE(doc.HasParseError()) << r.body;
    EXPECT_EQ(json_string(doc, "status"), "ok") << r.body;
    ASSERT_TRUE(doc.HasMember("feeds") && doc["feeds"].IsArray()) << r.body;
    ASSERT_EQ(doc["feeds"].Size(), 1u) << r.body;
    const auto& feed = doc["feeds"][0];
    EXPECT_EQ(json_string(feed, "name"), "sim") << r.body;
    EXPECT_EQ(json_string(feed, "state"), "ok") << r.body;
    const auto age = json_int(feed, "age_ms");
    ASSERT_TRUE(age) << r.body;
    EXPECT_GE(*age, 0);
    EXPECT_LT(*age, 5000) << "a running simulator is fresh";
}

TEST(Http, ReadyzUnknownPathAndPlainGetOfWs) {
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({"--symbols", "2"})) << gw.stderr_text();

    const auto ready = http_get(gw.ws_port(), "/readyz");
    EXPECT_EQ(ready.status, 200) << ready.error;
    EXPECT_EQ(json_string(parse_json(ready.body), "status"), "ready") << ready.body;

    const auto missing = http_get(gw.ws_port(), "/no-such-page");
    EXPECT_EQ(missing.status, 404) << missing.error;

    const auto plain = http_get(gw.ws_port(), "/ws");
    EXPECT_EQ(plain.status, 426) << plain.error << plain.body;
    EXPECT_EQ(plain.header("Upgrade"), "websocket");

    // The metrics port serves metrics over plain HTTP, and 404 elsewhere.
    HttpOptions http;
    http.tls = false;
    const auto metrics = http_get(gw.metrics_port(), "/metrics", http);
    EXPECT_EQ(metrics.status, 200) << metrics.error;
    EXPECT_NE(metrics.body.find("tickgate_connections"), std::string::npos);
    EXPECT_EQ(http_get(gw.metrics_port(), "/other", http).status, 404);
}

TEST(Http, BadUpgradeRequestsAreAnsweredWith400And405) {
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({"--symbols", "2"})) << gw.stderr_text();
    HttpOptions upgrade;
    upgrade.headers = {{"Connection", "Upgrade"},
                       {"Upgrade", "websocket"},
                       {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                       {"Sec-WebSocket-Version", "8"}};
    const auto old_version = http_get(gw.ws_port(), "/ws", upgrade);
    EXPECT_EQ(old_version.status, 400) << old_version.error << old_version.body;
    EXPECT_EQ(old_version.header("Sec-WebSocket-Version"), "13");

    upgrade.headers = {{"Connection", "Upgrade"}, {"Upgrade", "websocket"}, {"Sec-WebSocket-Version", "13"}};
    EXPECT_EQ(http_get(gw.ws_port(), "/ws", upgrade).status, 400) << "no Sec-WebSocket-Key";
    // RFC 6455 4.2.1 item 5: the key is base64 of 16 bytes.
    for (const char* key : {"not base64 at all!!!!!!!", "AAAAAAAAAAA=", "dGhlIHNhbXBsZSBub25jZQ"}) {
        upgrade.headers = {{"Connection", "Upgrade"},
                           {"Upgrade", "websocket"},
                           {"Sec-WebSocket-Key", key},
                           {"Sec-WebSocket-Version", "13"}};
        const auto bad_key = http_get(gw.ws_port(), "/ws", upgrade);
        EXPECT_EQ(bad_key.status, 400) << key << ": " << bad_key.error;
        EXPECT_NE(bad_key.body.find("base64 of 16 bytes"), std::string::npos) << bad_key.body;
    }

    // A well-formed upgrade is answered 101 with the RFC 6455 accept key.
    upgrade.headers = {{"Connection", "Upgrade"},
                       {"Upgrade", "websocket"},
                       {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                       {"Sec-WebSocket-Version", "13"}};
    upgrade.timeout = 2s;
    const auto ok = http_get(gw.ws_port(), "/ws", upgrade);
    EXPECT_EQ(ok.status, 101) << ok.error;
    EXPECT_EQ(ok.header("Sec-WebSocket-Accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

/// A masked client text frame (RFC 6455), payload < 126 bytes.
std::string client_text_frame(const std::string& payload) {
    std::string f;
    f += static_cast<char>(0x81);
    f += static_cast<char>(0x80 | payload.size());
    const char mask[4] = {0x11, 0x22, 0x33, 0x44};
    f.append(mask, 4);
    for (std::size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
    return f;
}

TEST(Http, UpgradeRequestAndFirstFrameInOneWriteAreBothServed) {
    // A client may send its first message right behind the upgrade request, in the same TCP segment.
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({"--no-tls", "--symbols", "2"})) << gw.stderr_text();
    RawTcp raw;
    ASSERT_TRUE(raw.connect(gw.ws_port()));
    const std::string upgrade =
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    ASSERT_TRUE(raw.send(upgrade + client_text_frame(R"({"op":"ping","id":"first"})")));
    ASSERT_TRUE(raw.read_until(R"("type":"pong")", 3s)) << "received: " << raw.received();
    EXPECT_EQ(raw.received().rfind("HTTP/1.1 101", 0), 0u) << raw.received();
    EXPECT_NE(raw.received().find(R"("id":"first")"), std::string::npos) << raw.received();
    EXPECT_LT(raw.received().find(R"("type":"welcome")"), raw.received().find(R"("type":"pong")"))
        << "the welcome comes first";
}

TEST(Http, TwoPipelinedRequestsOnOneConnectionAreBothAnswered) {
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({"--no-tls", "--symbols", "2"})) << gw.stderr_text();
    RawTcp raw;
    ASSERT_TRUE(raw.connect(gw.ws_port()));
    ASSERT_TRUE(raw.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    raw.wait_closed(3s);
    EXPECT_NE(raw.received().find(R"("feeds")"), std::string::npos) << raw.received();
    EXPECT_NE(raw.received().find(R"({"status":"ready"})"), std::string::npos) << raw.received();
}

TEST(Http, AllowedOriginsRefuseOtherBrowserOriginsWith403) {
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({"--symbols", "2", "--allowed-origins", "https://a.example,https://c.example"}))
        << gw.stderr_text();

    WssClient foreign;
    EXPECT_FALSE(foreign.connect(gw.ws_port(), with_origin("https://b.example")));
    EXPECT_EQ(foreign.http_status(), 403) << foreign.error();

    WssClient allowed, second_allowed, no_origin;
    EXPECT_TRUE(open_session(allowed, gw.ws_port(), with_origin("https://a.example")));
    EXPECT_EQ(allowed.http_status(), 101);
    EXPECT_TRUE(open_session(second_allowed, gw.ws_port(), with_origin("https://c.example")));
    EXPECT_TRUE(open_session(no_origin, gw.ws_port(), with_origin(""))) << "non-browser clients send no Origin";
    EXPECT_EQ(no_origin.http_status(), 101);

    const auto metrics = scrape(gw);
    EXPECT_EQ(metric_value(metrics, "tickgate_connections_total", "result=\"rejected_origin\""), 1.0);
}

TEST(Http, MaxConnectionsAnswers503AndAdmitsAgainAfterAClose) {
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({"--symbols", "2", "--max-connections", "2"})) << gw.stderr_text();
    WssClient a, b;
    ASSERT_TRUE(open_session(a, gw.ws_port()));
    ASSERT_TRUE(open_session(b, gw.ws_port()));

    WssClient c;
    EXPECT_FALSE(c.connect(gw.ws_port()));
    EXPECT_EQ(c.http_status(), 503) << c.error();

    a.close();
    std::unique_ptr<WssClient> d;
    EXPECT_TRUE(eventually_open(d, gw.ws_port(), {}, 2s)) << "a freed connection slot must be reusable";
    // b is unaffected.
    ASSERT_TRUE(b.send_text(R"({"op":"ping","id":1})"));
    EXPECT_TRUE(read_until_type(b, "pong", 2s)) << b.error();
}

TEST(Http, HealthProbesStillAnswerWhileTheConnectionLimitIsReached) {
    // README: /healthz is "200 while every feed is fresh, 503 otherwise" and /readyz "200 while accepting
    // clients". A gateway that is merely full must not look dead to a liveness probe (which would get
    // it restarted, dropping every client).
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({"--symbols", "2", "--max-connections", "1"})) << gw.stderr_text();
    WssClient only;
    ASSERT_TRUE(open_session(only, gw.ws_port()));
    const auto health = http_get(gw.ws_port(), "/healthz");
    EXPECT_EQ(health.status, 200) << "feeds are fresh, yet /healthz says: " << health.status << " " << health.body;
}

TEST(Http, MaxConnectionsPerIpAnswers503ToThatIpOnly) {
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({"--symbols", "2", "--max-connections-per-ip", "1"})) << gw.stderr_text();
    WssClient first;
    ASSERT_TRUE(open_session(first, gw.ws_port(), from("127.0.0.1")));

    WssClient same_ip;
    EXPECT_FALSE(same_ip.connect(gw.ws_port(), from("127.0.0.1")));
    EXPECT_EQ(same_ip.http_status(), 503) << same_ip.error();

    WssClient other_ip;
    EXPECT_TRUE(open_session(other_ip, gw.ws_port(), from("127.0.0.2"))) << "another client IP is still admitted";

    first.close();
    std::unique_ptr<WssClient> again;
    EXPECT_TRUE(eventually_open(again, gw.ws_port(), from("127.0.0.1"), 2s));
}

TEST(Http, SilentConnectionIsClosedAfterTheHandshakeTimeout) {
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({"--symbols", "2", "--handshake-timeout-ms", "300", "--rate", "200"})) << gw.stderr_text();
    ASSERT_TRUE(topics_of(gw.ws_port(), 2));  // ?subscribe= needs the topic published
    WssClient established;
    ConnectOptions options;
    options.target = "/ws?subscribe=ticker.BTC-USD";
    ASSERT_TRUE(open_session(established, gw.ws_port(), options));

    RawTcp silent;
    ASSERT_TRUE(silent.connect(gw.ws_port()));
    const auto closed_after = silent.wait_closed(2s);
    ASSERT_TRUE(closed_after) << "a connection that never sends anything must be closed";
    EXPECT_GE(closed_after->count(), 200);
    EXPECT_LT(closed_after->count(), 1500) << "--handshake-timeout-ms 300";

    // The open WebSocket (older than the timeout) keeps receiving, and new clients are served.
    std::this_thread::sleep_for(300ms);
    EXPECT_TRUE(read_until_type(established, "ticker", 2s)) << established.error();
    EXPECT_FALSE(established.closed());
    WssClient later;
    EXPECT_TRUE(open_session(later, gw.ws_port()));
    const auto metrics = scrape(gw);
    EXPECT_GE(metric_value(metrics, "tickgate_connections_total", "result=\"timeout\"").value_or(0), 1.0);
}

TEST(Http, StalledTlsHandshakeIsClosedAndItsConnectionSlotFreed) {
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({"--symbols", "2", "--handshake-timeout-ms", "300", "--max-connections", "1"}))
        << gw.stderr_text();
    RawTcp stalled;
    ASSERT_TRUE(stalled.connect(gw.ws_port()));
    // A TLS record header announcing a 500-byte ClientHello, then nothing more.
    ASSERT_TRUE(stalled.send(std::string("\x16\x03\x01\x01\xf4\x01\x00", 7)));
    const auto closed_after = stalled.wait_closed(2s);
    ASSERT_TRUE(closed_after) << "a stalled TLS handshake must be closed";
    EXPECT_LT(closed_after->count(), 1500);
    std::unique_ptr<WssClient> client;
    EXPECT_TRUE(eventually_open(client, gw.ws_port(), {}, 1s)) << "the only connection slot must be free again";
}

TEST(Http, GarbageOnTheTlsPortIsDroppedWithoutDisturbingOpenClients) {
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({"--symbols", "2", "--rate", "400"})) << gw.stderr_text();
    ASSERT_TRUE(topics_of(gw.ws_port(), 2));  // ?subscribe= needs the topic published
    WssClient client;
    ConnectOptions options;
    options.target = "/ws?subscribe=ticker.BTC-USD";
    ASSERT_TRUE(open_session(client, gw.ws_port(), options));
    ASSERT_TRUE(read_until_type(client, "ticker", 2s));

    for (const std::string& garbage : {std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
                                      std::string("\x16\x03\x01\x00\x05hello-not-tls", 17),
                                      std::string(3000, '\xff')}) {
        RawTcp raw;
        ASSERT_TRUE(raw.connect(gw.ws_port()));
        raw.send(garbage);
        const auto closed_after = raw.wait_closed(3s);
        EXPECT_TRUE(closed_after) << "a non-TLS byte stream must be dropped (default handshake timeout is 5 s)";
        if (closed_after) {
            EXPECT_LT(closed_after->count(), 2000);
        }
    }

    // Consecutive seqs prove nothing was lost only if there were some to compare: require ten.
    long long last = -1;
    int compared = 0;
    for (int n = 0; n < 40 && compared < 10; ++n) {
        const auto text = client.read_text(2s);
        ASSERT_TRUE(text) << "the open client was disturbed: " << client.error();
        const auto doc = parse_json(*text);
        if (json_string(doc, "type") != "ticker") continue;
        const auto seq = json_int(doc, "seq");
        ASSERT_TRUE(seq) << *text;
        if (last >= 0) {
            EXPECT_EQ(*seq, last + 1);
            ++compared;
        }
        last = *seq;
    }
    EXPECT_EQ(compared, 10) << "too few ticker updates after the garbage connections";
    EXPECT_GE(metric_value(scrape(gw), "tickgate_connections_total", "result=\"tls_error\"").value_or(0), 1.0);
    EXPECT_EQ(http_get(gw.ws_port(), "/healthz").status, 200);
}

TEST(Http, FinishedReplayFeedTurnsHealthzStaleWhileReadyzStaysReady) {
    TempDir dir;
    const auto file = dir.file("short.jsonl");
    write_file(file, replay_file({"ticker.BTC-USD"}, 3));
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({"--feed", "replay:" + file, "--stale-ms", "300"})) << gw.stderr_text();

    HttpResult health;
    const auto deadline = Clock::now() + 3s;
    do {
        health = http_get(gw.ws_port(), "/healthz");
        if (health.status == 503) break;
        std::this_thread::sleep_for(50ms);
    } while (Clock::now() < deadline);
    ASSERT_EQ(health.status, 503) << "the replay ended; its feed must turn stale after 300 ms: " << health.body;
    const auto doc = parse_json(health.body);
    EXPECT_EQ(json_string(doc, "status"), "stale") << health.body;
    ASSERT_TRUE(doc.HasMember("feeds") && doc["feeds"].IsArray() && doc["feeds"].Size() == 1) << health.body;
    EXPECT_EQ(json_string(doc["feeds"][0], "state"), "stale") << health.body;
    EXPECT_EQ(json_string(doc["feeds"][0], "name"), "replay:" + file) << health.body;
    EXPECT_GE(json_int(doc["feeds"][0], "age_ms").value_or(0), 300) << health.body;

    const auto ready = http_get(gw.ws_port(), "/readyz");
    EXPECT_EQ(ready.status, 200) << "a stale feed must not take the gateway out of the load balancer: " << ready.body;
    EXPECT_EQ(metric_value(scrape(gw), "tickgate_feed_fresh"), 0.0);
}

TEST(Http, TwoFeedsPublishingTheSameTopicCountConflicts) {
    TempDir dir;
    write_file(dir.file("a.jsonl"), replay_file({"ticker.BTC-USD"}, 5));
    write_file(dir.file("b.jsonl"), replay_file({"ticker.BTC-USD"}, 5));
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({"--feed", "replay:" + dir.file("a.jsonl"), "--feed", "replay:" + dir.file("b.jsonl")}))
        << gw.stderr_text();
    const auto metrics = scrape_until(gw, [](const std::string& m) {
        return metric_value(m, "tickgate_feed_conflicts_total").value_or(0) >= 5;
    });
    const auto conflicts = metric_value(metrics, "tickgate_feed_conflicts_total");
    ASSERT_TRUE(conflicts) << metrics;
    EXPECT_EQ(*conflicts, 5.0) << "one of the two feeds owns the topic; all 5 updates of the other are dropped";
    EXPECT_EQ(metric_value(metrics, "tickgate_topics"), 1.0);
    const auto topics = topics_of(gw.ws_port(), 1);
    ASSERT_TRUE(topics);
    EXPECT_EQ(topics->size(), 1u);
}

TEST(Http, MaxTopicsKeepsTheFirstTopicsAndCountsDrops) {
    TempDir dir;
    write_file(dir.file("four.jsonl"),
               replay_file({"ticker.BTC-USD", "ticker.ETH-USD", "ticker.SOL-USD", "ticker.ADA-USD"}, 8));
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({"--feed", "replay:" + dir.file("four.jsonl"), "--max-topics", "2"})) << gw.stderr_text();
    const auto metrics = scrape_until(gw, [](const std::string& m) {
        return metric_value(m, "tickgate_topic_limit_drops_total").value_or(0) >= 4;
    });
    EXPECT_EQ(metric_value(metrics, "tickgate_topics"), 2.0) << metrics;
    EXPECT_EQ(metric_value(metrics, "tickgate_topic_limit_drops_total"), 4.0)
        << "updates for the 3rd and 4th topic (2 each) are dropped";
    const auto topics = topics_of(gw.ws_port(), 2);
    ASSERT_TRUE(topics);
    ASSERT_EQ(topics->size(), 2u);
    std::vector<std::string> sorted = *topics;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, (std::vector<std::string>{"ticker.BTC-USD", "ticker.ETH-USD"})) << "the first two topics are kept";
}

}  // namespace
}  // namespace e2e
