#include "bench/load/socketio.hpp"
#include "bench/load/upgrade.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tickgate::load {
namespace {

TEST(Upgrade, AcceptKeyMatchesRfc6455Example) {
    EXPECT_EQ(expected_accept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    EXPECT_EQ(make_websocket_key().size(), 24u);
}

TEST(Upgrade, RequestCarriesTheHeadersAServerChecks) {
    const auto r = build_upgrade_request("127.0.0.1:8443", "/ws?subscribe=ticker.BTC-USD", "KEY");
    EXPECT_EQ(r.rfind("GET /ws?subscribe=ticker.BTC-USD HTTP/1.1\r\n", 0), 0u);
    EXPECT_NE(r.find("\r\nUpgrade: websocket\r\n"), std::string::npos);
    EXPECT_NE(r.find("\r\nSec-WebSocket-Version: 13\r\n"), std::string::npos);
    EXPECT_NE(r.find("\r\nSec-WebSocket-Key: KEY\r\n"), std::string::npos);
    EXPECT_TRUE(r.ends_with("\r\n\r\n"));
}

TEST(Upgrade, ParsesSwitchingProtocolsAndKeepsTheRest) {
    const std::string accept = expected_accept("dGhlIHNhbXBsZSBub25jZQ==");
    const std::string head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             "sec-websocket-accept: " + accept + "\r\n\r\n";
    EXPECT_EQ(parse_upgrade_response(head.substr(0, 40), accept).status, UpgradeResponse::Status::incomplete);
    const auto r = parse_upgrade_response(head + "\x81\x02hi", accept);
    EXPECT_EQ(r.status, UpgradeResponse::Status::switched);
    EXPECT_EQ(r.header_bytes, head.size());
    EXPECT_EQ(parse_upgrade_response(head, "wrong").status, UpgradeResponse::Status::malformed);
}

TEST(Upgrade, ReportsRefusals) {
    const auto r = parse_upgrade_response("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", "x");
    EXPECT_EQ(r.status, UpgradeResponse::Status::rejected);
    EXPECT_EQ(r.http_status, 503);
    EXPECT_EQ(parse_upgrade_response("garbage\r\n\r\n", "x").status, UpgradeResponse::Status::malformed);
}

TEST(SocketIo, ClassifiesEngineAndSocketPackets) {
    using K = SocketIoPacket::Kind;
    EXPECT_EQ(parse_socketio(R"(0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000})").kind, K::open);
    EXPECT_EQ(parse_socketio("2").kind, K::ping);
    EXPECT_EQ(parse_socketio("3").kind, K::other);
    EXPECT_EQ(parse_socketio("1").kind, K::close);
    EXPECT_EQ(parse_socketio(R"(40{"sid":"xyz"})").kind, K::connected);
    EXPECT_EQ(parse_socketio(R"(44{"message":"Invalid namespace"})").kind, K::connect_error);
    EXPECT_EQ(parse_socketio("41").kind, K::disconnect);
    EXPECT_EQ(parse_socketio("").kind, K::malformed);
    EXPECT_EQ(parse_socketio("42oops").kind, K::malformed);
}

TEST(SocketIo, EventsGiveNameAndFirstArgument) {
    const auto p = parse_socketio(R"(42["ticker",{"topic":"ticker.BTC-USD","seq":3,"ts":4}])");
    ASSERT_EQ(p.kind, SocketIoPacket::Kind::event);
    EXPECT_EQ(p.event, "ticker");
    EXPECT_EQ(p.arg, R"({"topic":"ticker.BTC-USD","seq":3,"ts":4})");
    const auto with_ack = parse_socketio(R"(42/feed,17["subscribed",{"topics":[]}])");
    ASSERT_EQ(with_ack.kind, SocketIoPacket::Kind::event);
    EXPECT_EQ(with_ack.event, "subscribed");
    EXPECT_EQ(parse_socketio(R"(42["bare"])").arg, "");
}

TEST(SocketIo, SubscribeEvent) {
    const std::vector<std::string> topics{"ticker.BTC-USD", "ticker.*"};
    EXPECT_EQ(socketio_subscribe(topics), R"(42["subscribe",["ticker.BTC-USD","ticker.*"]])");
}

}  // namespace
}  // namespace tickgate::load
