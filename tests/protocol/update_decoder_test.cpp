#include "protocol/update_decoder.hpp"

#include <gtest/gtest.h>

#include <string>

#include "protocol/messages.hpp"

namespace tp = tickgate::protocol;
using tickgate::protocol::MarketUpdate;

namespace {

const char* kLine =
    R"({"type":"ticker","topic":"ticker.BTC-USD","seq":1234,"ts":1764090000123456789,"snapshot":false,)"
    R"("bid":"64999.50","bid_size":"0.2500","ask":"65000.00","ask_size":"1.1000","last":"64999.75",)"
    R"("last_size":"0.0100","open_24h":"63000.00","high_24h":"65100.00","low_24h":"62900.00",)"
    R"("volume_24h":"1234.5678"})";

std::string with_field(const std::string& field, const std::string& raw_value, std::string s = kLine) {
    const auto key = "\"" + field + "\":";
    const auto pos = s.find(key);
    const auto start = pos + key.size();
    auto end = s.find_first_of(",}", start);
    return s.substr(0, start) + raw_value + s.substr(end);
}

std::string decode_error(const std::string& json) {
    MarketUpdate u;
    std::string error;
    EXPECT_FALSE(tp::decode_update(json, u, error)) << json;
    return error;
}

}  // namespace

TEST(DecodeUpdate, ReadsEveryField) {
    MarketUpdate u;
    std::string error;
    ASSERT_TRUE(tp::decode_update(kLine, u, error)) << error;
    EXPECT_EQ(u.topic(), "ticker.BTC-USD");
    EXPECT_EQ(u.ts_ns, 1764090000123456789);
    EXPECT_EQ(u.seq, 0u);
    EXPECT_EQ(u.feed, 0);
    EXPECT_EQ(u.price_decimals, 2);
    EXPECT_EQ(u.size_decimals, 4);
    EXPECT_EQ(u.bid, 6499950);
    EXPECT_EQ(u.bid_size, 2500);
    EXPECT_EQ(u.ask, 6500000);
    EXPECT_EQ(u.ask_size, 11000);
    EXPECT_EQ(u.last, 6499975);
    EXPECT_EQ(u.last_size, 100);
    EXPECT_EQ(u.open_24h, 6300000);
    EXPECT_EQ(u.high_24h, 6510000);
    EXPECT_EQ(u.low_24h, 6290000);
    EXPECT_EQ(u.volume_24h, 12345678);
}

TEST(DecodeUpdate, RoundTripsThroughEncodeUpdate) {
    MarketUpdate u;
    std::string error;
    ASSERT_TRUE(tp::decode_update(kLine, u, error)) << error;
    u.seq = 1234;
    std::string out;
    tp::encode_update(u, false, out);
    EXPECT_EQ(out, kLine);

    MarketUpdate back;
    ASSERT_TRUE(tp::decode_update(out, back, error)) << error;
    back.seq = u.seq;
    EXPECT_EQ(std::memcmp(&back, &u, sizeof u), 0);
}

TEST(DecodeUpdate, RoundTripsOddDecimalsAndNegatives) {
    MarketUpdate u;
    u.set_topic("perp_1.ETH-USDT");
    u.ts_ns = 0;
    u.price_decimals = 8;
    u.size_decimals = 0;
    u.bid = -5;
    u.ask = 123456789012;
    u.last = 1;
    u.open_24h = -123456789012;
    u.high_24h = INT64_MAX;
    u.low_24h = INT64_MIN;
    u.bid_size = 7;
    u.ask_size = 0;
    u.last_size = -1;
    u.volume_24h = 99;
    std::string out, error;
    tp::encode_update(u, true, out);
    MarketUpdate back;
    ASSERT_TRUE(tp::decode_update(out, back, error)) << error << "\n" << out;
    EXPECT_EQ(std::memcmp(&back, &u, sizeof u), 0) << out;
}

TEST(DecodeUpdate, UsesTheMostPlacesPerGroupAndRescalesTheRest) {
    std::string line = with_field("bid", "\"64999.5\"");
    line = with_field("ask", "\"65000\"", line);
    line = with_field("last", "\"64999.755\"", line);
    line = with_field("volume_24h", "\"1234.567891\"", line);
    MarketUpdate u;
    std::string error;
    ASSERT_TRUE(tp::decode_update(line, u, error)) << error;
    EXPECT_EQ(u.price_decimals, 3);
    EXPECT_EQ(u.size_decimals, 6);
    EXPECT_EQ(u.last, 64999755);
    EXPECT_EQ(u.bid, 64999500);
    EXPECT_EQ(u.bid_size, 250000);
    EXPECT_EQ(u.volume_24h, 1234567891);
}

TEST(DecodeUpdate, IgnoresFieldOrderAndExtraFields) {
    const std::string line =
        R"({"volume_24h":"1","low_24h":"1","high_24h":"1","open_24h":"1","last_size":"1","last":"1",)"
        R"("ask_size":"1","ask":"1","bid_size":"1","bid":"1","ts":5,"topic":"a.B-C","extra":[1,{"x":null}]})";
    MarketUpdate u;
    std::string error;
    ASSERT_TRUE(tp::decode_update(line, u, error)) << error;
    EXPECT_EQ(u.topic(), "a.B-C");
    EXPECT_EQ(u.price_decimals, 0);
    EXPECT_EQ(u.size_decimals, 0);
    EXPECT_EQ(u.ts_ns, 5);
}

TEST(DecodeUpdate, RejectsJsonNumbersForDecimals) {
    const auto error = decode_error(with_field("bid", "64999.50"));
    EXPECT_NE(error.find("'bid'"), std::string::npos) << error;
    EXPECT_NE(error.find("not a JSON number"), std::string::npos) << error;
    EXPECT_NE(decode_error(with_field("volume_24h", "12")).find("'volume_24h'"), std::string::npos);
}

TEST(DecodeUpdate, RejectsBadDecimalStrings) {
    for (const char* bad : {"\"\"", "\"1e5\"", "\"+1\"", "\"1.\"", "\".5\"", "\"1,5\"", "\" 1\"",
                            "\"99999999999999999999\"", "\"1.0000000000000000000\"", "null", "true", "[]"}) {
        const auto error = decode_error(with_field("ask", bad));
        EXPECT_NE(error.find("'ask'"), std::string::npos) << bad << ": " << error;
    }
}

TEST(DecodeUpdate, RejectsRescaleOverflow) {
    // 18 places on one price forces the others to 18 places, which 64999.50 does not fit.
    const auto error = decode_error(with_field("ask", "\"0.000000000000000001\""));
    EXPECT_NE(error.find("overflows"), std::string::npos) << error;
}

TEST(DecodeUpdate, RejectsMissingFields) {
    for (const char* field : {"topic", "ts", "bid", "bid_size", "ask", "ask_size", "last", "last_size", "open_24h",
                              "high_24h", "low_24h", "volume_24h"}) {
        std::string line = kLine;
        const auto key = std::string("\"") + field + "\":";
        line.replace(line.find(key), key.size(), "\"zz_" + std::string(field) + "\":");
        const auto error = decode_error(line);
        EXPECT_NE(error.find(std::string("'") + field + "' is required"), std::string::npos) << error;
    }
}

TEST(DecodeUpdate, RejectsBadTimestamps) {
    for (const char* bad : {"-1", "1.5", "\"123\"", "1e18", "18446744073709551615", "null"}) {
        const auto error = decode_error(with_field("ts", bad));
        EXPECT_NE(error.find("'ts'"), std::string::npos) << bad << ": " << error;
    }
}

TEST(DecodeUpdate, RejectsInvalidTopics) {
    for (const char* bad : {"\"ticker\"", "\"ticker.*\"", "\"*.BTC-USD\"", "\"error.BTC-USD\"", "\"Ticker.BTC-USD\"",
                            "\"ticker.btc-usd\"", "\"abcdefghijklmnop.ABCDEF-GHIJK\"", "7"}) {
        const auto error = decode_error(with_field("topic", bad));
        EXPECT_NE(error.find("'topic'"), std::string::npos) << bad << ": " << error;
    }
}

TEST(DecodeUpdate, RejectsMalformedJson) {
    EXPECT_NE(decode_error("").find("malformed JSON"), std::string::npos);
    EXPECT_NE(decode_error("{\"topic\":").find("malformed JSON"), std::string::npos);
    EXPECT_NE(decode_error(std::string(kLine) + "x").find("malformed JSON"), std::string::npos);
    EXPECT_NE(decode_error("[1,2]").find("object"), std::string::npos);
    EXPECT_NE(decode_error("{\"topic\":\"a.B-\xff\"}").find("malformed JSON"), std::string::npos);
    EXPECT_FALSE(decode_error(std::string(100000, '[')).empty());
}

TEST(DecodeUpdate, LeavesOutputUntouchedOnFailure) {
    MarketUpdate u;
    u.bid = 42;
    std::string error;
    EXPECT_FALSE(tp::decode_update(with_field("bid", "1"), u, error));
    EXPECT_EQ(u.bid, 42);
}

TEST(DecodeUpdate, AcceptsTrailingNewline) {
    MarketUpdate u;
    std::string error;
    EXPECT_TRUE(tp::decode_update(std::string(kLine) + "\r\n", u, error)) << error;
}
