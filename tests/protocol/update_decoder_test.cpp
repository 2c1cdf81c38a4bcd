#include "protocol/update_decoder.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

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

// ---- Recorded lines of every kind --------------------------------------------------------------

namespace {

const char* kSnapshot =
    R"({"type":"book50","topic":"book50.BTC-USD","seq":1000,"ts":1764090000123456789,"snapshot":true,)"
    R"("bids":[["64999.50","0.2500"]],"asks":[["65000.00","1.1000"],["65000.50","0.2000"]],"checksum":2541449844})";
const char* kDelta =
    R"({"type":"book","topic":"book.BTC-USD","seq":1003,"prev_seq":1000,"ts":1764090000223456789,"snapshot":false,)"
    R"("bids":[["64999.00","3.0000"]],"asks":[["65000.50","0.0000"]],"checksum":955971798})";
const char* kTrade =
    R"({"type":"trade","topic":"trade.BTC-USD","seq":42,"ts":1764090000123456789,"trade_id":987654321,)"
    R"("price":"64999.75","size":"0.0100","side":"sell"})";

std::string recorded_error(const std::string& json) {
    tp::RecordedLine r;
    std::string error;
    EXPECT_FALSE(tp::decode_recorded_line(json, r, error)) << json;
    return error;
}

std::string replaced(std::string s, const std::string& from, const std::string& to) {
    const auto pos = s.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    return s.replace(pos, from.size(), to);
}

}  // namespace

TEST(DecodeRecordedLine, ReadsABookSnapshot) {
    tp::RecordedLine r;
    std::string error;
    ASSERT_TRUE(tp::decode_recorded_line(kSnapshot, r, error)) << error;
    ASSERT_EQ(r.kind, tp::UpdateKind::book);
    const tp::BookLine& b = r.book;
    EXPECT_EQ(b.topic, "book50.BTC-USD");
    EXPECT_EQ(b.ts_ns, 1764090000123456789);
    EXPECT_EQ(b.seq, 1000u);
    EXPECT_TRUE(b.snapshot);
    EXPECT_EQ(b.checksum, 2541449844u);
    EXPECT_EQ(b.price_decimals, 2);
    EXPECT_EQ(b.size_decimals, 4);
    EXPECT_EQ(b.bids, (std::vector<tp::PriceLevel>{{6499950, 2500}}));
    EXPECT_EQ(b.asks, (std::vector<tp::PriceLevel>{{6500000, 11000}, {6500050, 2000}}));
}

TEST(DecodeRecordedLine, ReadsABookDeltaWithItsRemovals) {
    tp::RecordedLine r;
    std::string error;
    ASSERT_TRUE(tp::decode_recorded_line(kDelta, r, error)) << error;
    ASSERT_EQ(r.kind, tp::UpdateKind::book);
    EXPECT_EQ(r.book.topic, "book.BTC-USD");
    EXPECT_FALSE(r.book.snapshot);
    EXPECT_EQ(r.book.seq, 1003u);
    EXPECT_EQ(r.book.prev_seq, 1000u);
    EXPECT_EQ(r.book.checksum, 955971798u);
    EXPECT_EQ(r.book.bids, (std::vector<tp::PriceLevel>{{6499900, 30000}}));
    EXPECT_EQ(r.book.asks, (std::vector<tp::PriceLevel>{{6500050, 0}}));
}

TEST(DecodeRecordedLine, AnEmptyBookHasNoLevelsAndNoDecimals) {
    tp::RecordedLine r;
    std::string error;
    ASSERT_TRUE(tp::decode_recorded_line(
        R"({"topic":"book.ETH-USD","seq":0,"ts":5,"snapshot":true,"bids":[],"asks":[],"checksum":2343686810})", r,
        error)) << error;
    EXPECT_EQ(r.book.level_count(), 0u);
    EXPECT_EQ(r.book.price_decimals, 0);
}

TEST(DecodeRecordedLine, RescalesALinesLevelsToItsMostPlaces) {
    tp::RecordedLine r;
    std::string error;
    const std::string line = replaced(replaced(kSnapshot, R"("64999.50","0.2500")", R"("64999.5","0.25")"),
                                      R"("65000.00")", R"("65000.001")");
    ASSERT_TRUE(tp::decode_recorded_line(line, r, error)) << error;
    EXPECT_EQ(r.book.price_decimals, 3);
    EXPECT_EQ(r.book.size_decimals, 4);
    EXPECT_EQ(r.book.bids, (std::vector<tp::PriceLevel>{{64999500, 2500}}));
    EXPECT_EQ(r.book.asks[0], (tp::PriceLevel{65000001, 11000}));
}

TEST(DecodeRecordedLine, ReadsATrade) {
    tp::RecordedLine r;
    std::string error;
    ASSERT_TRUE(tp::decode_recorded_line(kTrade, r, error)) << error;
    ASSERT_EQ(r.kind, tp::UpdateKind::trade);
    EXPECT_EQ(r.update.kind, tp::UpdateKind::trade);
    EXPECT_EQ(r.update.topic(), "trade.BTC-USD");
    EXPECT_EQ(r.update.ts_ns, 1764090000123456789);
    EXPECT_EQ(r.update.seq, 0u) << "the replay assigns its own";
    EXPECT_EQ(r.update.trade.price, 6499975);
    EXPECT_EQ(r.update.trade.size, 100);
    EXPECT_EQ(r.update.trade.trade_id, 987654321u);
    EXPECT_EQ(r.update.trade.side, tp::TradeSide::sell);
    EXPECT_EQ(r.update.price_decimals, 2);
    EXPECT_EQ(r.update.size_decimals, 4);
    ASSERT_TRUE(tp::decode_recorded_line(replaced(kTrade, "sell", "buy"), r, error)) << error;
    EXPECT_EQ(r.update.trade.side, tp::TradeSide::buy);
}

TEST(DecodeRecordedLine, OtherChannelsAreTickers) {
    tp::RecordedLine r;
    std::string error;
    ASSERT_TRUE(tp::decode_recorded_line(kLine, r, error)) << error;
    EXPECT_EQ(r.kind, tp::UpdateKind::ticker);
    MarketUpdate direct;
    ASSERT_TRUE(tp::decode_update(kLine, direct, error));
    EXPECT_EQ(std::memcmp(&direct, &r.update, sizeof direct), 0);
    ASSERT_TRUE(tp::decode_recorded_line(replaced(kLine, "ticker.BTC-USD", "quote.BTC-USD"), r, error)) << error;
    EXPECT_EQ(r.kind, tp::UpdateKind::ticker);
    EXPECT_NE(recorded_error(replaced(kLine, R"("bid":"64999.50",)", "")).find("'bid' is required"), std::string::npos);
}

TEST(DecodeRecordedLine, RejectsBadBookLinesWithAReason) {
    const auto expect = [](const std::string& json, const std::string& reason) {
        const std::string e = recorded_error(json);
        EXPECT_NE(e.find(reason), std::string::npos) << json << " -> " << e;
    };
    expect(replaced(kDelta, R"("prev_seq":1000,)", ""), "'prev_seq' is required");
    expect(replaced(kDelta, R"("prev_seq":1000)", R"("prev_seq":1003)"), "'prev_seq' must be below 'seq'");
    expect(replaced(kDelta, R"("prev_seq":1000)", R"("prev_seq":-1)"), "'prev_seq' must be a non-negative integer");
    expect(replaced(kSnapshot, R"("seq":1000,)", ""), "'seq' is required");
    expect(replaced(kSnapshot, R"("snapshot":true)", R"("snapshot":1)"), "'snapshot' must be true or false");
    expect(replaced(kSnapshot, R"(,"checksum":2541449844)", ""), "'checksum' is required");
    expect(replaced(kSnapshot, "2541449844", "4294967296"), "'checksum' must be an unsigned 32-bit integer");
    expect(replaced(kSnapshot, R"("bids":[["64999.50","0.2500"]])", R"("bids":{})"), "'bids' must be an array");
    expect(replaced(kSnapshot, R"(["64999.50","0.2500"])", R"(["64999.50"])"), "'bids' level 1 must be a");
    expect(replaced(kSnapshot, R"(["64999.50","0.2500"])", R"([64999.5,"0.2500"])"), "not a JSON number");
    expect(replaced(kSnapshot, R"("65000.50","0.2000")", R"("65000.50","0.20x")"),
           "'asks' level 2 size is not a valid decimal");
    expect(replaced(kSnapshot, R"("64999.50","0.2500")", R"("0.00","0.2500")"), "price must be above 0");
    expect(replaced(kDelta, R"("64999.00","3.0000")", R"("64999.00","-3.0000")"), "size must not be negative");
    expect(replaced(kSnapshot, R"("64999.50","0.2500")", R"("64999.50","0.0000")"), "above 0 in a snapshot");
    expect(replaced(kDelta, R"("65000.50","0.0000")", R"("65000.50","0.0000000000000000001")"), "not a valid decimal");
    expect(replaced(kSnapshot, R"("64999.50")", R"("9223372036854775807")"), "overflows int64");
    expect(replaced(kSnapshot, R"("ts":1764090000123456789)", R"("ts":"1")"), "'ts' must be");
    expect(replaced(kSnapshot, "book50.BTC-USD", "book50.*"), "not a valid exact topic");

    std::string deep = R"({"topic":"book.BTC-USD","seq":1,"ts":1,"snapshot":true,"asks":[],"checksum":1,"bids":[)";
    for (int i = 0; i < 11; ++i) deep += std::string(i ? "," : "") + R"(["1)" + std::to_string(i) + R"(.00","1.0000"])";
    expect(deep + "]}", "holds 11 levels, more than the view's 10");
    // book50 allows 50; a delta is not limited (it can remove as many levels as it adds).
    tp::RecordedLine r;
    std::string error;
    EXPECT_TRUE(tp::decode_recorded_line(replaced(deep + "]}", "book.BTC-USD", "book50.BTC-USD"), r, error)) << error;
    const std::string delta =
        replaced(replaced(deep + "]}", R"("snapshot":true)", R"("snapshot":false,"prev_seq":0)"), "\"seq\":1", "\"seq\":2");
    EXPECT_TRUE(tp::decode_recorded_line(delta, r, error)) << error;
}

TEST(DecodeRecordedLine, RejectsBadTradesWithAReason) {
    const auto expect = [](const std::string& json, const std::string& reason) {
        const std::string e = recorded_error(json);
        EXPECT_NE(e.find(reason), std::string::npos) << json << " -> " << e;
    };
    expect(replaced(kTrade, R"("side":"sell")", R"("side":"ask")"), "'side' must be \"buy\" or \"sell\"");
    expect(replaced(kTrade, R"(,"side":"sell")", ""), "'side' is required");
    expect(replaced(kTrade, R"("trade_id":987654321,)", ""), "'trade_id' is required");
    expect(replaced(kTrade, R"("trade_id":987654321)", R"("trade_id":"9")"),
           "'trade_id' must be a non-negative integer");
    expect(replaced(kTrade, R"("price":"64999.75")", R"("price":64999.75)"), "not a JSON number");
    expect(replaced(kTrade, R"("size":"0.0100")", R"("size":"0.0000")"), "'size' must be above 0");
    expect(replaced(kTrade, R"("price":"64999.75")", R"("price":"-1")"), "'price' must be above 0");
}
