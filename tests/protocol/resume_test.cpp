// Resume (protocol/README.md, "Resume"): a subscribe's "since", the ack's "epochs" and
// "recovered", and the --history-snapshot form of a stored live message.
#include "protocol/request.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>
#include <vector>

#include "protocol/messages.hpp"
#include "protocol/socketio_events.hpp"

#include "request_checks.hpp"

namespace tp = tickgate::protocol;

namespace {

using request_checks::err;
using request_checks::ok;

std::string subscribe(const std::string& topics, const std::string& since) {
    return R"({"op":"subscribe","id":5,"topics":)" + topics + R"(,"since":)" + since + "}";
}

}  // namespace

TEST(ParseSince, ExactTopicsAndTopicsAPatternCovers) {
    const auto r = ok(subscribe(R"(["trade.BTC-USD","book.*"])",
                                R"({"trade.BTC-USD":{"epoch":"9f3a00000000c0de","seq":1234},)"
                                R"("book.ETH-USD":{"seq":0,"epoch":"1"}})"));
    EXPECT_EQ(r.op, tp::Op::subscribe);
    ASSERT_EQ(r.since.size(), 2u);
    EXPECT_EQ(r.since[0].topic, "trade.BTC-USD");
    EXPECT_EQ(r.since[0].epoch, 0x9f3a00000000c0deull);
    EXPECT_EQ(r.since[0].seq, 1234u);
    EXPECT_EQ(r.since[1].topic, "book.ETH-USD");
    EXPECT_EQ(r.since[1].epoch, 1u);
    EXPECT_EQ(r.since[1].seq, 0u);
    // *.* covers everything; a room is an exact topic too.
    EXPECT_EQ(ok(subscribe(R"(["*.*"])", R"({"chat.lobby":{"epoch":"ab","seq":3}})")).since.size(), 1u);
    // A throttled entry covers what its base covers.
    EXPECT_EQ(ok(subscribe(R"(["ticker.*@1000ms"])", R"({"ticker.BTC-USD":{"epoch":"ab","seq":3}})")).since.size(), 1u);
    // Without since, or with an empty one: nothing to resume.
    EXPECT_TRUE(ok(R"({"op":"subscribe","topics":["trade.*"]})").since.empty());
    EXPECT_TRUE(ok(subscribe(R"(["trade.*"])", "{}")).since.empty());
    // unsubscribe ignores it, as any unknown field.
    EXPECT_TRUE(ok(R"({"op":"unsubscribe","topics":["x.Y-Z"],"since":5})").since.empty());
}

TEST(ParseSince, EveryWrongShapeIsABadRequestNamingIt) {
    struct Case {
        std::string topics, since, message;
    };
    const std::vector<Case> cases = {
        {R"(["trade.*"])", "[]", R"(field 'since' must be an object: {"<topic>":{"epoch":"..","seq":N}})"},
        {R"(["trade.*"])", R"("x")", R"(field 'since' must be an object: {"<topic>":{"epoch":"..","seq":N}})"},
        {R"(["trade.*"])", R"({"trade.*":{"epoch":"1","seq":1}})", "field 'since': 'trade.*' is not an exact topic"},
        {R"(["trade.*"])", R"({"Bad Topic":{"epoch":"1","seq":1}})", "field 'since': 'Bad Topic' is not an exact topic"},
        {R"(["trade.*"])", R"({"ticker.BTC-USD":{"epoch":"1","seq":1}})",
         "field 'since': 'ticker.BTC-USD' is not covered by this request's topics"},
        {R"(["trade.BTC-USD"])", R"({"trade.ETH-USD":{"epoch":"1","seq":1}})",
         "field 'since': 'trade.ETH-USD' is not covered by this request's topics"},
        // A malformed entry covers nothing.
        {R"(["trade.BTC-*"])", R"({"trade.BTC-USD":{"epoch":"1","seq":1}})",
         "field 'since': 'trade.BTC-USD' is not covered by this request's topics"},
        {R"(["trade.*"])", R"({"trade.BTC-USD":{"epoch":"1","seq":1},"trade.BTC-USD":{"epoch":"1","seq":2}})",
         "field 'since' names 'trade.BTC-USD' twice"},
        {R"(["trade.*"])", R"({"trade.BTC-USD":5})",
         R"(field 'since': 'trade.BTC-USD' must map to {"epoch":"..","seq":N})"},
        {R"(["trade.*"])", R"({"trade.BTC-USD":{"seq":1}})",
         R"(field 'since': 'trade.BTC-USD' needs "epoch", a string (from the ack's epochs))"},
        {R"(["trade.*"])", R"({"trade.BTC-USD":{"epoch":17,"seq":1}})",
         R"(field 'since': 'trade.BTC-USD' needs "epoch", a string (from the ack's epochs))"},
        {R"(["trade.*"])", R"({"trade.BTC-USD":{"epoch":"e1-old","seq":1}})",
         "field 'since': the epoch of 'trade.BTC-USD' is not an epoch (16 hex digits)"},
        {R"(["trade.*"])", R"({"trade.BTC-USD":{"epoch":"00000000000000000","seq":1}})",
         "field 'since': the epoch of 'trade.BTC-USD' is not an epoch (16 hex digits)"},
        {R"(["trade.*"])", R"({"trade.BTC-USD":{"epoch":"0","seq":1}})",
         "field 'since': the epoch of 'trade.BTC-USD' is not an epoch (16 hex digits)"},
        {R"(["trade.*"])", R"({"trade.BTC-USD":{"epoch":"1"}})",
         R"(field 'since': 'trade.BTC-USD' needs "seq", an integer >= 0)"},
        {R"(["trade.*"])", R"({"trade.BTC-USD":{"epoch":"1","seq":-1}})",
         R"(field 'since': 'trade.BTC-USD' needs "seq", an integer >= 0)"},
        {R"(["trade.*"])", R"({"trade.BTC-USD":{"epoch":"1","seq":1.5}})",
         R"(field 'since': 'trade.BTC-USD' needs "seq", an integer >= 0)"},
        {R"(["trade.*"])", R"({"trade.BTC-USD":{"epoch":"1","seq":"7"}})",
         R"(field 'since': 'trade.BTC-USD' needs "seq", an integer >= 0)"},
    };
    for (const auto& c : cases) {
        const auto e = err(subscribe(c.topics, c.since));
        EXPECT_EQ(e.code, tp::ErrorCode::bad_request) << c.since;
        EXPECT_EQ(e.message, c.message) << c.since;
        EXPECT_EQ(e.id_json, "5") << c.since;
    }
    // A long key is cut in the message.
    const auto e = err(subscribe(R"(["trade.*"])", R"({")" + std::string(300, 'x') + R"(":{"epoch":"1","seq":1}})"));
    EXPECT_EQ(e.message, "field 'since': '" + std::string(28, 'x') + "' is not an exact topic");
}

TEST(ParseSince, AtMostAThousandKeys) {
    auto since = [](int n) {
        std::string s = "{";
        for (int i = 0; i < n; ++i)
            s += (i ? ",\"trade.A" : "\"trade.A") + std::to_string(i) + R"(-USD":{"epoch":"1","seq":1})";
        return s + "}";
    };
    EXPECT_EQ(ok(subscribe(R"(["trade.*"])", since(1000))).since.size(), 1000u);
    EXPECT_EQ(err(subscribe(R"(["trade.*"])", since(1001))).message, "field 'since' has more than 1000 topics");
}

TEST(SubscribeAck, EpochsAndRecovered) {
    const std::vector<std::string> topics{"trade.*"};
    const std::vector<tp::TopicEpoch> epochs{{"trade.BTC-USD", 0x9f3a00000000c0deull}, {"trade.ETH-USD", 1}};
    const std::vector<tp::TopicRecovered> recovered{{"trade.BTC-USD", true}, {"trade.SOL-USD", false}};
    std::string out;
    tp::encode_subscribed("1", topics, {epochs, recovered, true}, out);
    EXPECT_EQ(out, R"({"type":"subscribed","id":1,"topics":["trade.*"],)"
                   R"("epochs":{"trade.BTC-USD":"9f3a00000000c0de","trade.ETH-USD":"0000000000000001"},)"
                   R"("recovered":{"trade.BTC-USD":true,"trade.SOL-USD":false}})");
    // No since: no recovered; no epoch known: no epochs (the ack of old).
    out.clear();
    tp::encode_subscribed("", topics, {epochs, {}, false}, out);
    EXPECT_EQ(out, R"({"type":"subscribed","topics":["trade.*"],)"
                   R"("epochs":{"trade.BTC-USD":"9f3a00000000c0de","trade.ETH-USD":"0000000000000001"}})");
    out.clear();
    tp::encode_subscribed("", {}, {}, out);
    EXPECT_EQ(out, R"({"type":"subscribed","topics":[]})");
    // A since whose keys were all refused still says so.
    out.clear();
    tp::encode_subscribed("", {}, {{}, {}, true}, out);
    EXPECT_EQ(out, R"({"type":"subscribed","topics":[],"recovered":{}})");
    // Socket.IO's ack carries the same members.
    out.clear();
    tp::socketio::encode_topics_ack(true, topics, std::nullopt, out, {epochs, recovered, true});
    EXPECT_EQ(out, R"({"topics":["trade.*"],)"
                   R"("epochs":{"trade.BTC-USD":"9f3a00000000c0de","trade.ETH-USD":"0000000000000001"},)"
                   R"("recovered":{"trade.BTC-USD":true,"trade.SOL-USD":false}})");
    rapidjson::Document doc;
    doc.Parse(out.c_str());
    EXPECT_FALSE(doc.HasParseError());
}

TEST(HistorySnapshot, InsertsTheFlagAfterTs) {
    std::string out = "x";
    ASSERT_TRUE(tp::append_as_snapshot(
        R"({"type":"trade","topic":"trade.BTC-USD","seq":42,"ts":1764090000123456789,"trade_id":9,"price":"1.00","size":"0.0100","side":"buy"})",
        out));
    EXPECT_EQ(out, "x"
                   R"({"type":"trade","topic":"trade.BTC-USD","seq":42,"ts":1764090000123456789,"snapshot":true,)"
                   R"("trade_id":9,"price":"1.00","size":"0.0100","side":"buy"})");
    // A room's message: its data may hold ,"ts": too, after the real one.
    out.clear();
    ASSERT_TRUE(tp::append_as_snapshot(
        R"({"type":"chat","topic":"chat.lobby","seq":7,"ts":-5,"from":"a","data":{"x":1,"ts":2}})", out));
    EXPECT_EQ(out, R"({"type":"chat","topic":"chat.lobby","seq":7,"ts":-5,"snapshot":true,"from":"a","data":{"x":1,"ts":2}})");
    out.clear();
    EXPECT_FALSE(tp::append_as_snapshot(R"({"type":"x","seq":1})", out));
    EXPECT_FALSE(tp::append_as_snapshot(R"({"type":"x","seq":1,"ts":"a"})", out));
    EXPECT_EQ(out, "");
}
