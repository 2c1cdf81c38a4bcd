#include "protocol/bus_publish.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace tp = tickgate::protocol;
using tp::PublishRefusal;

namespace {

std::string request(std::string_view topic, std::string_view from, std::string_view data) {
    std::string out;
    tp::append_publish_request(topic, from, data, out);
    return out;
}

PublishRefusal refusal_of(const std::string& bytes) {
    tp::PublishRequest r;
    return tp::decode_publish_request(bytes, r);
}

}  // namespace

TEST(PublishRequest, RoundTripsTopicFromAndDataByteForByte) {
    const std::string data = R"( {"text":"héllo", "n":[1,2.5,null]} )";
    const std::string bytes = request("chat.lobby", "anon:5f0c", data);
    ASSERT_EQ(bytes.size(), 5u + 10 + 9 + data.size());
    EXPECT_EQ(bytes[0], 'T');
    EXPECT_EQ(bytes[1], 1);   // the request form's version
    EXPECT_EQ(bytes[2], 10);  // topic length
    EXPECT_EQ(bytes[3], 9);   // from length, u16 little-endian
    EXPECT_EQ(bytes[4], 0);
    EXPECT_EQ(bytes.substr(5, 10), "chat.lobby");
    tp::PublishRequest r;
    ASSERT_EQ(tp::decode_publish_request(bytes, r), PublishRefusal::none);
    EXPECT_EQ(r.topic, "chat.lobby");
    EXPECT_EQ(r.from, "anon:5f0c");
    EXPECT_EQ(r.data, data);
}

TEST(PublishRequest, MalformedFramingIsRefusedAsSuch) {
    const std::string good = request("chat.lobby", "alice", "1");
    EXPECT_EQ(refusal_of(""), PublishRefusal::malformed);
    EXPECT_EQ(refusal_of(good.substr(0, 4)), PublishRefusal::malformed);
    EXPECT_EQ(refusal_of(R"({"topic":"chat.lobby","data":1})"), PublishRefusal::malformed);
    std::string v2 = good;
    v2[1] = 2;
    EXPECT_EQ(refusal_of(v2), PublishRefusal::malformed);
    // Lengths past the end of the request.
    std::string long_topic = good;
    long_topic[2] = 100;
    EXPECT_EQ(refusal_of(long_topic), PublishRefusal::malformed);
    std::string long_from = good;
    long_from[4] = 1;
    EXPECT_EQ(refusal_of(long_from), PublishRefusal::malformed);
}

TEST(PublishRequest, MarketDataChannelsAreNeverPublishable) {
    for (std::string_view topic : {"ticker.BTC-USD", "book.BTC-USD", "book50.BTC-USD", "trade.BTC-USD", "ticker.lobby",
                                   "trade.x", "bookkf.BTC-USD"})
        EXPECT_EQ(refusal_of(request(topic, "alice", "1")), PublishRefusal::market_data_channel) << topic;
}

TEST(PublishRequest, TopicsFollowTheRoomGrammar) {
    for (std::string_view topic : {"chat.lobby", "chat.a", "chat.room-1_b", "support.20-characters-room", "c_2.x"})
        EXPECT_EQ(tp::check_published_topic(topic), PublishRefusal::none) << topic;
    for (std::string_view topic : {"", "chat", "chat.", ".lobby", "chat.Lobby", "chat.lob by", "chat.lobby.x", "chat.*",
                                   "*.lobby", "Chat.lobby", "chat.a-room-of-21-chars-xy", "welcome.lobby", "error.x",
                                   "chat-x.lobby", "longchannel.room-of-20-chars"})
        EXPECT_EQ(tp::check_published_topic(topic), PublishRefusal::bad_topic) << topic;
    EXPECT_EQ(refusal_of(request("chat.Lobby", "alice", "1")), PublishRefusal::bad_topic);
}

TEST(PublishRequest, FromAndDataAreChecked) {
    EXPECT_EQ(refusal_of(request("chat.lobby", "", "1")), PublishRefusal::bad_from);
    EXPECT_EQ(refusal_of(request("chat.lobby", "a\tb", "1")), PublishRefusal::bad_from);
    EXPECT_EQ(refusal_of(request("chat.lobby", "\xc3\x28", "1")), PublishRefusal::bad_from);
    EXPECT_EQ(refusal_of(request("chat.lobby", std::string(tp::kMaxPublishedFrom + 1, 'u'), "1")), PublishRefusal::bad_from);
    EXPECT_EQ(refusal_of(request("chat.lobby", std::string(tp::kMaxPublishedFrom, 'u'), "1")), PublishRefusal::none);
    for (std::string_view data : {"", "{", "{\"a\":1", "1 2", "'x'", "nul", "{\"a\":1}x", "\"\xff\"", "[1,]"})
        EXPECT_EQ(refusal_of(request("chat.lobby", "alice", data)), PublishRefusal::bad_json) << data;
    EXPECT_EQ(refusal_of(request("chat.lobby", "alice", std::string("\"a\0b\"", 5))), PublishRefusal::bad_json);
    const std::string at_limit = "\"" + std::string(tp::kMaxPublishedData - 2, 'x') + "\"";
    EXPECT_EQ(refusal_of(request("chat.lobby", "alice", at_limit)), PublishRefusal::none);
    EXPECT_EQ(refusal_of(request("chat.lobby", "alice", at_limit + " ")), PublishRefusal::data_too_large);
}

TEST(PublishRequest, JsonNestedPast32IsRefused) {
    const auto nested = [](std::size_t n) { return std::string(n, '[') + std::string(n, ']'); };
    EXPECT_TRUE(tp::is_valid_json_value(nested(32)));
    EXPECT_FALSE(tp::is_valid_json_value(nested(33)));
    std::string objects;
    for (int i = 0; i < 33; ++i) objects += "{\"a\":";
    objects += "1" + std::string(33, '}');
    EXPECT_FALSE(tp::is_valid_json_value(objects));
    // Far deeper than any stack would take recursively: refused, not a crash.
    EXPECT_FALSE(tp::is_valid_json_value(nested(100000)));
    for (std::string_view v : {"1", "-0.5e3", "true", "null", "\"\"", "[]", "{}", " {\"a\":[{\"b\":\"\\u00e9\"}]}\n"})
        EXPECT_TRUE(tp::is_valid_json_value(v)) << v;
}

TEST(PublishRequest, APublishedTopicIsTheSubjectsLastTwoTokens) {
    EXPECT_EQ(tp::published_topic_from_subject("md.chat.lobby"), "chat.lobby");
    EXPECT_EQ(tp::published_topic_from_subject("venue.md.support.room-7"), "support.room-7");
    EXPECT_EQ(tp::published_topic_from_subject("md.ticker.BTC-USD"), "");
    EXPECT_EQ(tp::published_topic_from_subject("md.chat.Lobby"), "");
    EXPECT_EQ(tp::published_topic_from_subject("md-publish"), "");
    EXPECT_EQ(tp::published_topic_from_subject(""), "");
}

TEST(PublishReply, ASeqOrAnErrorRoundTrips) {
    std::uint64_t seq = 0;
    std::string error;
    EXPECT_EQ(tp::publish_reply_ok(42), R"({"seq":42})");
    ASSERT_TRUE(tp::decode_publish_reply(tp::publish_reply_ok(42), seq, error));
    EXPECT_EQ(seq, 42u);
    EXPECT_FALSE(tp::decode_publish_reply(tp::publish_reply_error(PublishRefusal::market_data_channel), seq, error));
    EXPECT_EQ(error, "market_data_channel: market-data channels cannot be published to");
    // A reason with quotes and a newline survives the JSON.
    EXPECT_FALSE(tp::decode_publish_reply(tp::publish_reply_error("nats", "said \"no\"\nagain"), seq, error));
    EXPECT_EQ(error, "nats: said \"no\"\nagain");
    for (std::string_view bad : {"", "42", "{}", R"({"seq":0})", R"({"seq":"1"})", R"({"error":7})", R"({"error":""})"}) {
        error.clear();
        EXPECT_FALSE(tp::decode_publish_reply(bad, seq, error)) << bad;
        EXPECT_FALSE(error.empty()) << bad;
    }
}
