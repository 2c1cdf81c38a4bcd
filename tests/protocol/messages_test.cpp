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

TEST(EncodeWelcome, ExactOutputWithPublishingOff) {
    std::string out;
    tp::encode_welcome("s-1f", "0.1.0", 20000, {}, out);
    // No "publish" member at all: the welcome clients (and the golden transcripts) always had.
    EXPECT_EQ(out, R"({"type":"welcome","session":"s-1f","version":"0.1.0","heartbeat_ms":20000})");
    parse_strict(out);
}

TEST(EncodeWelcome, ListsThePublishableChannels) {
    const std::vector<std::string> channels = {"chat", "game_v2"};
    std::string out;
    tp::encode_welcome("s-1f", "0.1.0", 20000, channels, out);
    EXPECT_EQ(out,
              R"({"type":"welcome","session":"s-1f","version":"0.1.0","heartbeat_ms":20000,"publish":["chat","game_v2"]})");
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

namespace {

using tp::BookSide;
using tp::PriceLevel;

/// The book of the README's example, one more bid.
tp::OrderBook btc_book() {
    tp::OrderBook b(2, 4);
    b.apply(BookSide::ask, 6500000, 11000);
    b.apply(BookSide::ask, 6500050, 2000);
    b.apply(BookSide::bid, 6499950, 2500);
    b.apply(BookSide::bid, 6499900, 30000);
    return b;
}

/// The same message built the slow, obvious way, to compare with encode_book.
std::string naive_book(const tp::BookMessage& m) {
    auto dec = [](std::int64_t v, int d) {
        char buf[tp::kMaxDecimalChars];
        return std::string(buf, tp::format_decimal(buf, v, d));
    };
    auto side = [&](std::span<const PriceLevel> levels) {
        std::string s = "[";
        for (std::size_t i = 0; i < levels.size(); ++i) {
            if (i) s += ',';
            s += "[\"" + dec(levels[i].price, m.price_decimals) + "\",\"" + dec(levels[i].size, m.size_decimals) + "\"]";
        }
        return s + "]";
    };
    std::string s = "{\"type\":\"" + std::string(m.type) + "\",\"topic\":\"" + std::string(m.topic) +
                    "\",\"seq\":" + std::to_string(m.seq);
    if (!m.snapshot) s += ",\"prev_seq\":" + std::to_string(m.prev_seq);
    s += ",\"ts\":" + std::to_string(m.ts_ns) + ",\"snapshot\":" + (m.snapshot ? "true" : "false");
    s += ",\"bids\":" + side(m.bids) + ",\"asks\":" + side(m.asks) + ",\"checksum\":" + std::to_string(m.checksum) + "}";
    return s;
}

}  // namespace

TEST(EncodeBook, DeltaExactOutput) {
    const std::vector<PriceLevel> bids{{6499950, 2500}, {6499900, 0}};
    const std::vector<PriceLevel> asks{{6500000, 11000}};
    tp::BookMessage m;
    m.type = "book";
    m.topic = "book.BTC-USD";
    m.seq = 1001;
    m.prev_seq = 998;
    m.ts_ns = 1764090000123456789;
    m.bids = bids;
    m.asks = asks;
    m.checksum = 2541449844u;
    std::string out = "prefix";
    tp::encode_book(m, out);
    EXPECT_EQ(out, "prefix"
                   R"({"type":"book","topic":"book.BTC-USD","seq":1001,"prev_seq":998,"ts":1764090000123456789,)"
                   R"("snapshot":false,"bids":[["64999.50","0.2500"],["64999.00","0.0000"]],)"
                   R"("asks":[["65000.00","1.1000"]],"checksum":2541449844})");
    const auto doc = parse_strict(out.substr(6));
    EXPECT_EQ(doc["prev_seq"].GetUint64(), 998u);
    EXPECT_EQ(doc["checksum"].GetUint(), 2541449844u);
    EXPECT_EQ(str(doc["bids"][1][1]), "0.0000");
}

TEST(EncodeBook, SnapshotHasNoPrevSeqAndEmptySidesAreArrays) {
    tp::BookMessage m;
    m.type = "book50";
    m.topic = "book50.ETH-USD";
    m.seq = 7;
    m.prev_seq = 6;  // ignored for a snapshot
    m.snapshot = true;
    m.ts_ns = 5;
    m.checksum = 2343686810u;
    std::string out;
    tp::encode_book(m, out);
    EXPECT_EQ(out, R"({"type":"book50","topic":"book50.ETH-USD","seq":7,"ts":5,"snapshot":true,"bids":[],"asks":[],)"
                   R"("checksum":2343686810})");
    const auto doc = parse_strict(out);
    EXPECT_FALSE(doc.HasMember("prev_seq"));
    EXPECT_TRUE(doc["bids"].IsArray());
    EXPECT_EQ(doc["asks"].Size(), 0u);
}

TEST(EncodeBook, ManyLevelsAndExtremeValues) {
    // A merged delta can be long: more than one internal chunk.
    std::vector<PriceLevel> bids;
    std::vector<PriceLevel> asks;
    for (std::int64_t i = 0; i < 150; ++i) {
        bids.push_back({INT64_MAX - i, i % 3 == 0 ? 0 : INT64_MAX - i});
        asks.push_back({INT64_MIN + i, INT64_MIN + i});
    }
    tp::BookMessage m;
    m.type = "book50";
    m.topic = "book50.ABCDEFGHIJKLM-NOPQRS";
    m.seq = UINT64_MAX;
    m.prev_seq = UINT64_MAX - 1;
    m.ts_ns = INT64_MIN;
    m.bids = bids;
    m.asks = asks;
    m.checksum = UINT32_MAX;
    m.price_decimals = 18;
    m.size_decimals = 0;
    std::string out;
    tp::encode_book(m, out);
    EXPECT_GT(out.size(), 8000u);
    EXPECT_EQ(out, naive_book(m));
    const auto doc = parse_strict(out);
    EXPECT_EQ(doc["bids"].Size(), 150u);
    EXPECT_EQ(doc["asks"].Size(), 150u);
    EXPECT_EQ(str(doc["asks"][0][0]), "-9.223372036854775808");
    EXPECT_EQ(doc["checksum"].GetUint(), UINT32_MAX);

    for (std::size_t n : {0u, 1u, 2u, 37u, 38u, 39u, 40u, 41u, 80u}) {
        m.bids = std::span<const PriceLevel>(bids).first(n);
        m.asks = std::span<const PriceLevel>(asks).first(n / 2);
        m.snapshot = n % 2;
        out.clear();
        tp::encode_book(m, out);
        EXPECT_EQ(out, naive_book(m)) << n;
    }
}

TEST(EncodeBookSnapshot, ExactOutputFromTheBook) {
    const tp::OrderBook b = btc_book();
    std::string out;
    tp::encode_book_snapshot("book", "book.BTC-USD", 1000, 1764090000123456789, b, tp::kBookViewDepth, out);
    EXPECT_EQ(out, R"({"type":"book","topic":"book.BTC-USD","seq":1000,"ts":1764090000123456789,"snapshot":true,)"
                   R"("bids":[["64999.50","0.2500"],["64999.00","3.0000"]],)"
                   R"("asks":[["65000.00","1.1000"],["65000.50","0.2000"]],)"
                   R"("checksum":)" + std::to_string(b.checksum()) + "}");
    parse_strict(out);
    EXPECT_EQ(b.checksum_string(), "65000.00:1.1000,65000.50:0.2000|64999.50:0.2500,64999.00:3.0000");
}

TEST(EncodeBookSnapshot, DepthCutsTheSidesButNotTheChecksum) {
    tp::OrderBook b(2, 4);
    for (std::int64_t i = 0; i < 50; ++i) {
        b.apply(BookSide::ask, 6500000 + 50 * i, 1000 + i);
        b.apply(BookSide::bid, 6499950 - 50 * i, 2000 + i);
    }
    std::string out;
    tp::encode_book_snapshot("book", "book.BTC-USD", 3, 4, b, 2, out);
    EXPECT_EQ(out, R"({"type":"book","topic":"book.BTC-USD","seq":3,"ts":4,"snapshot":true,)"
                   R"("bids":[["64999.50","0.2000"],["64999.00","0.2001"]],)"
                   R"("asks":[["65000.00","0.1000"],["65000.50","0.1001"]],)"
                   R"("checksum":)" + std::to_string(b.checksum()) + "}");

    // book50: all 50 per side, the same as encode_book of the same levels.
    out.clear();
    tp::encode_book_snapshot("book50", "book50.BTC-USD", 3, 4, b, tp::kBook50ViewDepth, out);
    std::vector<PriceLevel> bids;
    std::vector<PriceLevel> asks;
    tp::copy_levels(b.levels(BookSide::bid), 50, bids);
    tp::copy_levels(b.levels(BookSide::ask), 50, asks);
    tp::BookMessage m;
    m.type = "book50";
    m.topic = "book50.BTC-USD";
    m.seq = 3;
    m.ts_ns = 4;
    m.snapshot = true;
    m.bids = bids;
    m.asks = asks;
    m.checksum = b.checksum();
    EXPECT_EQ(out, naive_book(m));
    const auto doc = parse_strict(out);
    EXPECT_EQ(doc["bids"].Size(), 50u);
    EXPECT_EQ(doc["checksum"].GetUint(), b.checksum());

    // An empty book.
    out.clear();
    tp::encode_book_snapshot("book", "book.X-Y", 0, 0, tp::OrderBook{}, 10, out);
    EXPECT_EQ(out, R"({"type":"book","topic":"book.X-Y","seq":0,"ts":0,"snapshot":true,"bids":[],"asks":[],)"
                   R"("checksum":2343686810})");
}

TEST(EncodeTrade, ExactOutput) {
    MarketUpdate u;
    u.kind = tp::UpdateKind::trade;
    u.set_topic("trade.BTC-USD");
    u.seq = 42;
    u.ts_ns = 1764090000123456789;
    u.trade.price = 6499975;
    u.trade.size = 100;
    u.trade.trade_id = 987654321;
    u.trade.side = tp::TradeSide::buy;
    std::string out = "x";
    tp::encode_trade(u, out);
    EXPECT_EQ(out, "x"
                   R"({"type":"trade","topic":"trade.BTC-USD","seq":42,"ts":1764090000123456789,"trade_id":987654321,)"
                   R"("price":"64999.75","size":"0.0100","side":"buy"})");
    parse_strict(out.substr(1));

    u.trade.side = tp::TradeSide::sell;
    u.set_topic("trades_v2.ETH-USD");
    u.price_decimals = 0;
    u.size_decimals = 8;
    u.trade.trade_id = UINT64_MAX;
    out.clear();
    tp::encode_trade(u, out);
    EXPECT_EQ(out, R"({"type":"trades_v2","topic":"trades_v2.ETH-USD","seq":42,"ts":1764090000123456789,)"
                   R"("trade_id":18446744073709551615,"price":"6499975","size":"0.00000100","side":"sell"})");
    const auto doc = parse_strict(out);
    EXPECT_EQ(doc["trade_id"].GetUint64(), UINT64_MAX);
    EXPECT_EQ(doc.MemberCount(), 8u);
}

// The two messages of protocol/README.md ("Order books and trades"), byte for byte, with their
// checksums computed from the book: keep them in step with the README.
TEST(EncodeBook, ReadmeExample) {
    tp::OrderBook b(2, 4);
    b.apply(BookSide::ask, 6500000, 11000);
    b.apply(BookSide::ask, 6500050, 2000);
    b.apply(BookSide::bid, 6499950, 2500);
    std::string out;
    tp::encode_book_snapshot("book", "book.BTC-USD", 1000, 1764090000123456789, b, tp::kBookViewDepth, out);
    EXPECT_EQ(out, R"({"type":"book","topic":"book.BTC-USD","seq":1000,"ts":1764090000123456789,"snapshot":true,)"
                   R"("bids":[["64999.50","0.2500"]],"asks":[["65000.00","1.1000"],["65000.50","0.2000"]],"checksum":2541449844})");

    std::vector<PriceLevel> before_bids;
    std::vector<PriceLevel> before_asks;
    tp::copy_levels(b.levels(BookSide::bid), tp::kBookViewDepth, before_bids);
    tp::copy_levels(b.levels(BookSide::ask), tp::kBookViewDepth, before_asks);
    b.apply(BookSide::ask, 6500050, 0);
    b.apply(BookSide::bid, 6499900, 30000);
    std::vector<PriceLevel> bids;
    std::vector<PriceLevel> asks;
    tp::diff_view(BookSide::bid, before_bids, b.levels(BookSide::bid), tp::kBookViewDepth, bids);
    tp::diff_view(BookSide::ask, before_asks, b.levels(BookSide::ask), tp::kBookViewDepth, asks);
    EXPECT_EQ(b.checksum_string(), "65000.00:1.1000|64999.50:0.2500,64999.00:3.0000");
    EXPECT_EQ(b.checksum(), 955971798u);  // zlib.crc32 of that string
    tp::BookMessage m;
    m.type = "book";
    m.topic = "book.BTC-USD";
    m.seq = 1003;
    m.prev_seq = 1000;
    m.ts_ns = 1764090000223456789;
    m.bids = bids;
    m.asks = asks;
    m.checksum = b.checksum();
    out.clear();
    tp::encode_book(m, out);
    EXPECT_EQ(out, R"({"type":"book","topic":"book.BTC-USD","seq":1003,"prev_seq":1000,"ts":1764090000223456789,"snapshot":false,)"
                   R"("bids":[["64999.00","3.0000"]],"asks":[["65000.50","0.0000"]],"checksum":955971798})");
}
