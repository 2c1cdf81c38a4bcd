#include "bench/load/update_scan.hpp"

#include <gtest/gtest.h>

namespace tickgate::load {
namespace {

using Kind = ScannedMessage::Kind;

TEST(ScanMessage, ReadsAGatewayUpdate) {
    const auto m = scan_message(
        R"({"type":"ticker","topic":"ticker.BTC-USD","seq":1234,"ts":1764090000123456789,"snapshot":false,"bid":"64999.50","ask":"65000.00"})");
    ASSERT_EQ(m.kind, Kind::update);
    EXPECT_EQ(m.topic, "ticker.BTC-USD");
    EXPECT_EQ(m.seq, 1234u);
    EXPECT_EQ(m.ts_ns, 1764090000123456789);
    EXPECT_FALSE(m.snapshot);
}

TEST(ScanMessage, ReadsSnapshotsAndAnyFieldOrderWithSpaces) {
    const auto m = scan_message(R"({ "snapshot": true, "ts": 5, "seq": 9, "topic": "ticker.ETH-USD", "type": "ticker" })");
    ASSERT_EQ(m.kind, Kind::update);
    EXPECT_EQ(m.topic, "ticker.ETH-USD");
    EXPECT_EQ(m.seq, 9u);
    EXPECT_EQ(m.ts_ns, 5);
    EXPECT_TRUE(m.snapshot);
}

TEST(ScanMessage, AnUpdateWithoutSnapshotFieldIsLive) {
    const auto m = scan_message(R"({"topic":"ticker.A-B","seq":1,"ts":2})");
    ASSERT_EQ(m.kind, Kind::update);
    EXPECT_FALSE(m.snapshot);
}

// A published chat message, as the gateway writes it (protocol/README.md "Publishing"): an update
// by topic, seq and ts like a ticker, so its seq is checked and its latency measured.
constexpr const char* kChat =
    R"({"type":"chat","topic":"chat.lobby","seq":7,"ts":1764090000123456789,"from":"anon:3f9c0a1b","data":{"sent_ns":1764090000120000000,"i":7}})";

TEST(ScanMessage, ReadsAPublishedMessageAsAnUpdate) {
    const auto m = scan_message(kChat);
    ASSERT_EQ(m.kind, Kind::update);
    EXPECT_EQ(m.topic, "chat.lobby");
    EXPECT_EQ(m.seq, 7u);
    EXPECT_EQ(m.ts_ns, 1764090000123456789);
    EXPECT_FALSE(m.snapshot);
    EXPECT_EQ(m.sent_ns, 0) << "no latency key asked for: data is not searched";
}

TEST(ScanMessage, ReadsTheLatencyKeyFromData) {
    const auto m = scan_message(kChat, "\"sent_ns\":");
    ASSERT_EQ(m.kind, Kind::update);
    EXPECT_EQ(m.sent_ns, 1764090000120000000);
    EXPECT_EQ(m.ts_ns, 1764090000123456789) << "ts is still the sequencer's";
}

TEST(ScanMessage, ALatencyKeyThatIsAbsentOrNotAnIntegerGivesZero) {
    EXPECT_EQ(scan_message(kChat, "\"sent_at\":").sent_ns, 0);
    EXPECT_EQ(scan_message(R"({"type":"chat","topic":"chat.lobby","seq":1,"ts":5,"data":{"sent_ns":"x"}})",
                           "\"sent_ns\":").sent_ns, 0);
    // Before ts is not data: a key there is not taken for the publisher's.
    EXPECT_EQ(scan_message(R"({"sent_ns":9,"topic":"chat.lobby","seq":1,"ts":5,"data":null})", "\"sent_ns\":").sent_ns, 0);
    EXPECT_EQ(scan_message(R"({"type":"chat","topic":"chat.lobby","seq":1,"ts":5,"data":{"sent_ns": 42}})",
                           "\"sent_ns\":").sent_ns, 42);
}

TEST(ScanMessage, ClassifiesControlMessages) {
    EXPECT_EQ(scan_message(R"({"type":"subscribed","id":1,"topics":["ticker.BTC-USD"]})").kind, Kind::subscribed);
    EXPECT_EQ(scan_message(R"({"type":"error","code":"unknown_topic","message":"x","topics":["a.B-C"]})").kind, Kind::error);
    EXPECT_EQ(scan_message(R"({"type":"welcome","session":"5f0c","version":"0.1.0","heartbeat_ms":20000})").kind, Kind::other);
    EXPECT_EQ(scan_message(R"({"type":"topics","topics":["ticker.BTC-USD"]})").kind, Kind::other);
}

TEST(ScanMessage, RejectsBrokenUpdates) {
    EXPECT_EQ(scan_message("").kind, Kind::malformed);
    EXPECT_EQ(scan_message("[1,2]").kind, Kind::malformed);
    EXPECT_EQ(scan_message(R"({"topic":"ticker.A-B","seq":"x","ts":2})").kind, Kind::malformed);
    EXPECT_EQ(scan_message(R"({"topic":"ticker.A-B","seq":1})").kind, Kind::malformed);
    EXPECT_EQ(scan_message(R"({"topic":"ticker.A-B)").kind, Kind::malformed);
}

}  // namespace
}  // namespace tickgate::load
