#include "protocol/messages.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>
#include <vector>

namespace tp = tickgate::protocol;
using tickgate::protocol::MarketUpdate;

namespace {

rapidjson::Document parse_strict(const std::string& json) {
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
    EXPECT_FALSE(doc.HasParseError()) << json;
    return doc;
}

std::string str(const rapidjson::Value& v) { return {v.GetString(), v.GetStringLength()}; }

MarketUpdate btc_update() {
    MarketUpdate u;
    u.set_topic("ticker.BTC-USD");
    u.seq = 1234;
    u.ts_ns = 1764090000123456789;
    u.price_decimals = 2;
    u.size_decimals = 4;
    u.bid = 6499950;
    u.bid_size = 2500;
    u.ask = 6500000;
    u.ask_size = 11000;
    u.last = 6499975;
    u.last_size = 100;
    u.open_24h = 6300000;
    u.high_24h = 6510000;
    u.low_24h = 6290000;
    u.volume_24h = 12345678;
    return u;
}

}  // namespace

TEST(EncodeUpdate, ExactOutput) {
    std::string out;
    tp::encode_update(btc_update(), false, out);
    EXPECT_EQ(out,
              R"({"type":"ticker","topic":"ticker.BTC-USD","seq":1234,"ts":1764090000123456789,"snapshot":false,)"
              R"("bid":"64999.50","bid_size":"0.2500","ask":"65000.00","ask_size":"1.1000","last":"64999.75",)"
              R"("last_size":"0.0100","open_24h":"63000.00","high_24h":"65100.00","low_24h":"62900.00",)"
              R"("volume_24h":"1234.5678"})");
    const auto doc = parse_strict(out);
    EXPECT_EQ(doc["seq"].GetUint64(), 1234u);
    EXPECT_EQ(doc["ts"].GetInt64(), 1764090000123456789);
}

TEST(EncodeUpdate, SnapshotFlagAppendsAndChannelIsType) {
    std::string out = "prefix";
    auto u = btc_update();
    u.set_topic("perp_v2.ETH-USDT");
    u.seq = UINT64_MAX;
    u.ts_ns = 0;
    u.price_decimals = 0;
    u.size_decimals = 18;
    u.bid_size = 1;
    tp::encode_update(u, true, out);
    ASSERT_EQ(out.rfind("prefix", 0), 0u);
    const auto doc = parse_strict(out.substr(6));
    EXPECT_EQ(str(doc["type"]), "perp_v2");
    EXPECT_EQ(str(doc["topic"]), "perp_v2.ETH-USDT");
    EXPECT_TRUE(doc["snapshot"].GetBool());
    EXPECT_EQ(doc["seq"].GetUint64(), UINT64_MAX);
    EXPECT_EQ(doc["ts"].GetInt64(), 0);
    EXPECT_EQ(str(doc["bid"]), "6499950");
    EXPECT_EQ(str(doc["bid_size"]), "0.000000000000000001");
    EXPECT_EQ(doc.MemberCount(), 15u);
}

TEST(EncodeUpdate, WorstCaseFieldsStayValidJson) {
    MarketUpdate u;
    u.set_topic("abcdefghijklmn.ABCDEF-GHIJK");
    u.seq = UINT64_MAX;
    u.ts_ns = INT64_MIN;
    u.price_decimals = 18;
    u.size_decimals = 18;
    for (auto* f : {&u.bid, &u.bid_size, &u.ask, &u.ask_size, &u.last, &u.last_size, &u.open_24h, &u.high_24h,
                    &u.low_24h, &u.volume_24h}) {
        *f = INT64_MIN;
    }
    std::string out;
    tp::encode_update(u, false, out);
    const auto doc = parse_strict(out);
    EXPECT_EQ(str(doc["volume_24h"]), "-9.223372036854775808");
    EXPECT_EQ(doc["ts"].GetInt64(), INT64_MIN);
}

TEST(EncodeUpdate, EscapesATopicThatSkippedValidation) {
    MarketUpdate u = btc_update();
    u.set_topic(std::string_view("a\"b\\c\n.X-\xff", 10));
    std::string out;
    tp::encode_update(u, false, out);
    const auto doc = parse_strict(out);
    EXPECT_EQ(str(doc["type"]), "a\"b\\c\n");
    EXPECT_EQ(str(doc["topic"]), "a\"b\\c\n.X-\xEF\xBF\xBD");
}

TEST(AppendJsonString, Escapes) {
    std::string out;
    tp::append_json_string("plain", out);
    EXPECT_EQ(out, "\"plain\"");
    out.clear();
    tp::append_json_string("q\"b\\s/", out);
    EXPECT_EQ(out, R"("q\"b\\s/")");
    out.clear();
    tp::append_json_string(std::string_view("\x00\x01\n\t\r\x1f\x7f", 7), out);
    EXPECT_EQ(out, "\"\\u0000\\u0001\\u000A\\u0009\\u000D\\u001F\x7f\"");
    parse_strict(out);
}

TEST(AppendJsonString, KeepsValidUtf8AndReplacesInvalid) {
    std::string out;
    tp::append_json_string("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", out);
    EXPECT_EQ(out, "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
    out.clear();
    tp::append_json_string("a\xFF" "b\xC3" "c\xED\xA0\x80", out);  // bad byte, truncated, surrogate
    EXPECT_EQ(out, R"("a\uFFFDb\uFFFDc\uFFFD\uFFFD\uFFFD")");
    parse_strict(out);
}

TEST(EncodeWelcome, ExactOutput) {
    std::string out;
    tp::encode_welcome("s-1f", "0.1.0", 20000, out);
    EXPECT_EQ(out, R"({"type":"welcome","session":"s-1f","version":"0.1.0","heartbeat_ms":20000})");
    parse_strict(out);
}

TEST(EncodeTopicAck, WithAndWithoutId) {
    const std::vector<std::string> topics = {"ticker.BTC-USD", "ticker.*"};
    std::string out;
    tp::encode_topic_ack("subscribed", "1", topics, out);
    EXPECT_EQ(out, R"({"type":"subscribed","id":1,"topics":["ticker.BTC-USD","ticker.*"]})");
    parse_strict(out);
    out.clear();
    tp::encode_topic_ack("unsubscribed", "", topics, out);
    EXPECT_EQ(out, R"({"type":"unsubscribed","topics":["ticker.BTC-USD","ticker.*"]})");
    out.clear();
    tp::encode_topic_ack("subscribed", R"("req \"a\"")", {}, out);
    EXPECT_EQ(out, R"({"type":"subscribed","id":"req \"a\"","topics":[]})");
    const auto doc = parse_strict(out);
    EXPECT_EQ(str(doc["id"]), "req \"a\"");
}

TEST(EncodeTopicList, ExactOutput) {
    const std::vector<std::string_view> topics = {"ticker.BTC-USD", "ticker.ETH-USD"};
    std::string out;
    tp::encode_topic_list("3", topics, out);
    EXPECT_EQ(out, R"({"type":"topics","id":3,"topics":["ticker.BTC-USD","ticker.ETH-USD"]})");
    parse_strict(out);
    out.clear();
    tp::encode_topic_list("", {}, out);
    EXPECT_EQ(out, R"({"type":"topics","topics":[]})");
}

TEST(EncodePong, ExactOutput) {
    std::string out;
    tp::encode_pong("4", 1764090000123456789, out);
    EXPECT_EQ(out, R"({"type":"pong","id":4,"ts":1764090000123456789})");
    parse_strict(out);
    out.clear();
    tp::encode_pong("", 5, out);
    EXPECT_EQ(out, R"({"type":"pong","ts":5})");
}

TEST(EncodeError, ExactOutput) {
    const std::vector<std::string> topics = {"Ticker.x", "a\"b"};
    std::string out;
    tp::encode_error("7", tp::ErrorCode::bad_request, "malformed topics", topics, out);
    EXPECT_EQ(out,
              R"({"type":"error","id":7,"code":"bad_request","message":"malformed topics","topics":["Ticker.x","a\"b"]})");
    parse_strict(out);
    out.clear();
    tp::encode_error("", tp::ErrorCode::rate_limited, "slow down\n", {}, out);
    EXPECT_EQ(out, R"({"type":"error","code":"rate_limited","message":"slow down\u000A"})");
    const auto doc = parse_strict(out);
    EXPECT_EQ(str(doc["message"]), "slow down\n");
    out.clear();
    tp::encode_error("\"x\"", tp::ErrorCode::too_many_subscriptions, "limit 256", std::vector<std::string>{"a.B-C"},
                     out);
    EXPECT_EQ(out,
              R"({"type":"error","id":"x","code":"too_many_subscriptions","message":"limit 256","topics":["a.B-C"]})");
    out.clear();
    tp::encode_error("1", tp::ErrorCode::unknown_topic, "unknown", std::vector<std::string>{"x.Y-Z"}, out);
    EXPECT_EQ(str(parse_strict(out)["code"]), "unknown_topic");
}

TEST(EncodeStatus, ExactOutput) {
    std::string out;
    tp::encode_status("sim", "stale", "no update for 5000 ms", out);
    EXPECT_EQ(out, R"({"type":"status","feed":"sim","state":"stale","message":"no update for 5000 ms"})");
    parse_strict(out);
}
