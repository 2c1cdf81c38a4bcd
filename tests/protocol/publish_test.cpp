// Client publishing in protocol/: room topics, reserved names, the publish request (v1 and the
// Socket.IO event), depth limits, the data's exact text, and the messages it produces.
#include "protocol/publish_messages.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>
#include <variant>

#include "protocol/errors.hpp"
#include "protocol/json_text.hpp"
#include "protocol/request.hpp"
#include "protocol/reserved_names.hpp"
#include "protocol/socketio.hpp"
#include "protocol/socketio_events.hpp"
#include "protocol/topic.hpp"

namespace tp = tickgate::protocol;
namespace sio = tickgate::protocol::socketio;
using tp::EntryKind;

namespace {

std::variant<tp::Request, tp::RequestError> sio_request(const std::string& frame) {
    static std::string text;  // the packet's views point into it
    text = frame.substr(1);   // past the Engine.IO message type
    sio::Packet p;
    EXPECT_EQ(sio::decode(text, p), sio::DecodeError::none) << frame;
    return sio::event_to_request(p);
}

tp::Request accepted(const std::variant<tp::Request, tp::RequestError>& r) {
    if (const auto* e = std::get_if<tp::RequestError>(&r)) {
        ADD_FAILURE() << "refused: " << e->message;
        return {};
    }
    return std::get<tp::Request>(r);
}

tp::RequestError refused(const std::variant<tp::Request, tp::RequestError>& r) {
    if (!std::holds_alternative<tp::RequestError>(r)) {
        ADD_FAILURE() << "accepted";
        return {};
    }
    return std::get<tp::RequestError>(r);
}

/// depth levels of nested arrays around 0: nested(3) is [[[0]]].
std::string nested(int depth) { return std::string(depth, '[') + "0" + std::string(depth, ']'); }

}  // namespace

TEST(ReservedNames, EveryMessageTypeAndEventTheGatewaySendsOrTakesIsOneAndNeverAChannel) {
    for (const char* name : {"message", "error", "welcome", "status", "subscribed", "unsubscribed", "topics", "pong",
                             "authenticated", "token_expiring", "published", "broadcast", "subscribe", "unsubscribe",
                             "list", "ping", "auth", "refresh", "publish", "connect", "connect_error", "disconnect",
                             "disconnecting"}) {
        EXPECT_TRUE(tp::is_reserved_name(name)) << name;
        EXPECT_FALSE(tp::is_valid_channel(name)) << name;
        EXPECT_EQ(tp::classify_entry(std::string(name) + ".lobby"), EntryKind::invalid) << name;
        EXPECT_FALSE(tp::is_room_topic(std::string(name) + ".lobby")) << name;
    }
    EXPECT_EQ(tp::reserved_names().size(), 23u);
    for (const char* free : {"chat", "ticker", "announcement", "publisher", "pings"})
        EXPECT_FALSE(tp::is_reserved_name(free)) << free;
}

TEST(RoomTopics, GrammarIsLowerCaseDigitsUnderscoreAndDashUpToTwenty) {
    for (const char* room : {"lobby", "a", "room-1", "x_y", "0", "abcdefghijklmnopqrst"})
        EXPECT_TRUE(tp::is_valid_room(room)) << room;
    for (const char* room : {"", "Lobby", "abcdefghijklmnopqrstu", "a.b", "a b", "*", "caf\xc3\xa9"})
        EXPECT_FALSE(tp::is_valid_room(room)) << room;

    EXPECT_TRUE(tp::is_room_topic("chat.lobby"));
    EXPECT_TRUE(tp::is_room_topic("chat.1-2"));  // also a symbol: still a room on a publishable channel
    EXPECT_FALSE(tp::is_room_topic("chat.BTC-USD"));
    EXPECT_FALSE(tp::is_room_topic("chat.*"));
    EXPECT_FALSE(tp::is_room_topic("chat"));
    EXPECT_FALSE(tp::is_room_topic("Chat.lobby"));
    EXPECT_FALSE(tp::is_room_topic("abcdefghij.abcdefghijklmnopq"));  // 28 characters: over kMaxTopicLength
    EXPECT_TRUE(tp::is_room_topic("abcdefghij.abcdefghijklmnop"));    // 27
}

TEST(RoomTopics, ClassifyEntryTakesRoomsAndChannelPatternsButNoRoomPatterns) {
    EXPECT_EQ(tp::classify_entry("chat.lobby"), EntryKind::room);
    EXPECT_EQ(tp::classify_entry("chat.room-1"), EntryKind::room);
    EXPECT_EQ(tp::classify_entry("chat.*"), EntryKind::pattern);
    EXPECT_EQ(tp::classify_entry("chat.1-2"), EntryKind::topic);  // symbol grammar first
    EXPECT_EQ(tp::classify_entry("*.lobby"), EntryKind::invalid);  // a room belongs to one channel
    EXPECT_EQ(tp::classify_entry("chat.Lobby"), EntryKind::invalid);
    EXPECT_EQ(tp::classify_entry("chat."), EntryKind::invalid);
    // Market topics keep their grammar: a lower-case symbol is a room, never a topic.
    EXPECT_EQ(tp::classify_entry("ticker.btc-usd"), EntryKind::room);
    EXPECT_EQ(tp::classify_entry("ticker.BTC-USD"), EntryKind::topic);
    EXPECT_TRUE(tp::entry_matches("chat.*", "chat.lobby"));
    EXPECT_FALSE(tp::entry_matches("chat.*", "news.lobby"));
    EXPECT_EQ(tp::topic_symbol("chat.lobby"), "lobby");
}

TEST(RoomTopics, MarketChannelsAreKnown) {
    for (const char* c : {"ticker", "book", "book50", "trade"}) EXPECT_TRUE(tp::is_market_channel(c)) << c;
    for (const char* c : {"chat", "books", "trades", "bookkf"}) EXPECT_FALSE(tp::is_market_channel(c)) << c;
}

TEST(JsonText, DepthCountsArraysAndObjectsNotBracketsInStrings) {
    EXPECT_FALSE(tp::json_deeper_than(nested(32), 32));
    EXPECT_TRUE(tp::json_deeper_than(nested(33), 32));
    EXPECT_FALSE(tp::json_deeper_than(R"({"a":"[[[[[[","b":{"c":"\"]]]]{{{{"}})", 2));
    EXPECT_TRUE(tp::json_deeper_than(R"({"a":{"b":{}}})", 2));
    EXPECT_FALSE(tp::json_deeper_than("7", 0));
    EXPECT_FALSE(tp::json_deeper_than(R"([[],[],[[]]])", 3));  // siblings do not add up
}

TEST(JsonText, RawMemberIsTheValueAsWritten) {
    const std::string text = R"( { "op" : "publish", "data" : {"b": 1.50, "a":[ 1e3 ,"x\"}"]} , "data":2 } )";
    EXPECT_EQ(tp::raw_member(text, "data"), R"({"b": 1.50, "a":[ 1e3 ,"x\"}"]})");  // the first, as FindMember
    EXPECT_EQ(tp::raw_member(text, "op"), R"("publish")");
    EXPECT_EQ(tp::raw_member(text, "none"), std::nullopt);
    EXPECT_EQ(tp::raw_member(R"({"d\u0061ta":-0.0})", "data"), "-0.0");
    EXPECT_EQ(tp::raw_member(R"({"x":[{"data":1}],"data":null})", "data"), "null");  // nested keys are not members
    EXPECT_EQ(tp::raw_member(R"({"data":true})", "data"), "true");
    EXPECT_EQ(tp::raw_member("[1]", "data"), std::nullopt);
    EXPECT_EQ(tp::raw_member("{}", "data"), std::nullopt);
}

TEST(PublishRequest, V1KeepsTopicAndTheExactDataText) {
    const auto r = accepted(tp::parse_request(R"({"op":"publish","id":1,"topic":"chat.lobby","data":{"text":"hi","n":1.10}})"));
    EXPECT_EQ(r.op, tp::Op::publish);
    EXPECT_EQ(r.id_json, "1");
    EXPECT_EQ(r.topic, "chat.lobby");
    EXPECT_EQ(r.data, R"({"text":"hi","n":1.10})");
    EXPECT_EQ(accepted(tp::parse_request(R"({"op":"publish","topic":"chat.lobby","data":null})")).data, "null");
    EXPECT_EQ(accepted(tp::parse_request(R"({"data":"\u00e9","topic":"chat.x","op":"publish"})")).data, R"("\u00e9")");
    // Whether a channel is publishable is the gateway's to say: the grammar takes market topics.
    EXPECT_EQ(accepted(tp::parse_request(R"({"op":"publish","topic":"ticker.BTC-USD","data":1})")).topic,
              "ticker.BTC-USD");
}

TEST(PublishRequest, PatternsMalformedTopicsAndMissingFieldsAreBadRequests) {
    struct Case {
        const char* text;
        const char* says;
    };
    for (const Case& c : {Case{R"({"op":"publish","id":2,"topic":"chat.*","data":1})", "not a pattern"},
                          Case{R"({"op":"publish","id":2,"topic":"*.*","data":1})", "not a pattern"},
                          Case{R"({"op":"publish","id":2,"topic":"*.lobby","data":1})", "not a topic"},
                          Case{R"({"op":"publish","id":2,"topic":"Chat lobby","data":1})", "not a topic"},
                          Case{R"({"op":"publish","id":2,"topic":7,"data":1})", "'topic' (a string)"},
                          Case{R"({"op":"publish","id":2,"data":1})", "'topic' (a string)"},
                          Case{R"({"op":"publish","id":2,"topic":"chat.lobby"})", "'data'"}}) {
        const auto e = refused(tp::parse_request(c.text));
        EXPECT_EQ(e.code, tp::ErrorCode::bad_request) << c.text;
        EXPECT_EQ(e.id_json, "2") << c.text;
        EXPECT_NE(e.message.find(c.says), std::string::npos) << c.text << ": " << e.message;
    }
}

TEST(PublishRequest, EveryRequestIsRefusedDeeperThan32Levels) {
    // The request object is level 1, so data may nest 31 more.
    const std::string ok = R"({"op":"publish","id":3,"topic":"chat.lobby","data":)" + nested(31) + "}";
    EXPECT_EQ(accepted(tp::parse_request(ok)).data, nested(31));
    const auto deep = refused(tp::parse_request(R"({"op":"publish","id":3,"topic":"chat.lobby","data":)" + nested(32) + "}"));
    EXPECT_EQ(deep.code, tp::ErrorCode::bad_request);
    EXPECT_EQ(deep.id_json, "3");
    EXPECT_EQ(deep.message, "JSON nested deeper than 32 levels");
    // Not only publish: any op, and fields the op does not read.
    const auto sub = refused(tp::parse_request(R"({"op":"subscribe","topics":["ticker.*"],"x":)" + nested(40) + "}"));
    EXPECT_EQ(sub.message, "JSON nested deeper than 32 levels");
    // A very deep request (as deep as 4 KiB allows) is refused the same way, without recursion.
    EXPECT_EQ(refused(tp::parse_request(R"({"op":"ping","x":)" + nested(2000) + "}")).message,
              "JSON nested deeper than 32 levels");
}

TEST(PublishRequest, SocketIoEventTakesOneObject) {
    const auto r = accepted(sio_request(R"(423["publish",{"topic":"chat.lobby","data":[1, 2]}])"));
    EXPECT_EQ(r.op, tp::Op::publish);
    EXPECT_EQ(r.topic, "chat.lobby");
    EXPECT_EQ(r.data, "[1, 2]");
    for (const char* frame : {R"(42["publish"])", R"(42["publish",{"topic":"chat.lobby","data":1},2])"})
        EXPECT_NE(refused(sio_request(frame)).message.find("takes one argument"), std::string::npos) << frame;
    EXPECT_NE(refused(sio_request(R"(42["publish","chat.lobby"])")).message.find("one object"), std::string::npos);
    EXPECT_NE(refused(sio_request(R"(42["publish",{"topic":"chat.*","data":1}])")).message.find("not a pattern"),
              std::string::npos);
    // The depth of an event's argument counts from the argument, for every event.
    EXPECT_TRUE(std::holds_alternative<tp::Request>(
        sio_request(R"(42["publish",{"topic":"chat.lobby","data":)" + nested(31) + "}]")));
    EXPECT_EQ(refused(sio_request(R"(42["publish",{"topic":"chat.lobby","data":)" + nested(32) + "}]")).message,
              "JSON nested deeper than 32 levels");
    EXPECT_EQ(refused(sio_request(R"(42["list",)" + nested(33) + "]")).message, "JSON nested deeper than 32 levels");
    // socket.send() of a v1 publish is the v1 request.
    EXPECT_EQ(accepted(sio_request(R"(42["message",{"op":"publish","topic":"chat.a","data":"x"}])")).data, "\"x\"");
}

TEST(PublishRequest, AnUnknownEventIsNamedInItsError) {
    const auto e = refused(sio_request(R"(42["pubilsh",{"topic":"chat.lobby","data":1}])"));
    EXPECT_EQ(e.code, tp::ErrorCode::bad_request);
    EXPECT_NE(e.message.find("unknown event 'pubilsh'"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("publish"), std::string::npos);
}

TEST(PublishedMessages, DeliveredMessageAckAndSocketIoAck) {
    tp::PublishedMessage m;
    m.topic = "chat.lobby";
    m.from = "anon:\"q\"";
    m.data = R"({"text":"hi", "n":1.10})";
    m.seq = 7;
    m.ts_ns = 1764090000123456789;
    std::string out;
    tp::encode_published_message(m, out);
    EXPECT_EQ(out, R"({"type":"chat","topic":"chat.lobby","seq":7,"ts":1764090000123456789,"from":"anon:\"q\"",)"
                   R"("data":{"text":"hi", "n":1.10}})");
    rapidjson::Document doc;
    doc.Parse(out.data(), out.size());
    EXPECT_FALSE(doc.HasParseError());

    out.clear();
    tp::encode_published("\"p1\"", "chat.lobby", 7, out);
    EXPECT_EQ(out, R"({"type":"published","id":"p1","topic":"chat.lobby","seq":7})");
    out.clear();
    tp::encode_published("", "chat.lobby", 8, out);
    EXPECT_EQ(out, R"({"type":"published","topic":"chat.lobby","seq":8})");
    out.clear();
    tp::encode_published_ack("chat.lobby", 9, out);
    EXPECT_EQ(out, R"({"topic":"chat.lobby","seq":9})");
}

TEST(PublishedMessages, NewErrorCodesHaveWireNames) {
    EXPECT_EQ(tp::error_code_name(tp::ErrorCode::too_many_topics), "too_many_topics");
    EXPECT_EQ(tp::error_code_name(tp::ErrorCode::unavailable), "unavailable");
    EXPECT_EQ(tp::kErrorCodeCount, static_cast<std::size_t>(tp::ErrorCode::unavailable) + 1);
}
