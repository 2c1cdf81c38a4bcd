#include "protocol/engineio.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/base64.hpp"

namespace tp = tickgate::protocol;
namespace eio = tickgate::protocol::engineio;
using eio::DecodeError;
using eio::PacketType;

namespace {

struct Decoded {
    DecodeError error = DecodeError::none;
    std::vector<eio::Packet> packets;
    std::string storage;
};

Decoded payload(std::string_view body, eio::PayloadLimits limits = {}) {
    Decoded d;
    d.error = eio::decode_payload(body, limits, d.packets, d.storage);
    return d;
}

std::string base64(std::string_view bytes) {
    std::string s;
    tp::append_base64(bytes, s);
    return s;
}

}  // namespace

// --- single packets (WebSocket text frames) ---------------------------------------------------

TEST(EngineIoPacket, EveryType) {
    const struct {
        const char* frame;
        PacketType type;
        const char* data;
    } cases[] = {
        {"0{\"sid\":\"x\"}", PacketType::open, "{\"sid\":\"x\"}"},
        {"1", PacketType::close, ""},
        {"2", PacketType::ping, ""},
        {"2probe", PacketType::ping, "probe"},
        {"3", PacketType::pong, ""},
        {"3probe", PacketType::pong, "probe"},
        {"4hello", PacketType::message, "hello"},
        {"40", PacketType::message, "0"},
        {"4", PacketType::message, ""},
        {"5", PacketType::upgrade, ""},
        {"6", PacketType::noop, ""},
    };
    for (const auto& c : cases) {
        eio::Packet p;
        ASSERT_EQ(eio::decode_text_packet(c.frame, p), DecodeError::none) << c.frame;
        EXPECT_EQ(p.type, c.type) << c.frame;
        EXPECT_EQ(p.data, c.data) << c.frame;
        EXPECT_FALSE(p.binary);
    }
}

TEST(EngineIoPacket, Malformed) {
    eio::Packet p;
    EXPECT_EQ(eio::decode_text_packet("", p), DecodeError::empty_packet);
    // The Engine.IO test suite's "invalid packet format" is "abc".
    for (const char* f : {"abc", "7", "9", "/", " 4hello", "bAQIDBA=="}) {
        EXPECT_EQ(eio::decode_text_packet(f, p), DecodeError::unknown_type) << f;
    }
}

TEST(EngineIoPacket, BinaryFrameIsABinaryMessage) {
    const std::string bytes("\x01\x02\x00\xFF", 4);
    const eio::Packet p = eio::binary_message(bytes);
    EXPECT_EQ(p.type, PacketType::message);
    EXPECT_TRUE(p.binary);
    EXPECT_EQ(p.data, bytes);  // v4: no type byte in front of binary data
}

TEST(EngineIoPacket, EncodeAndConstants) {
    std::string out;
    eio::append_packet(PacketType::message, "hello", out);
    EXPECT_EQ(out, "4hello");
    out.clear();
    eio::append_packet(PacketType::pong, "probe", out);
    EXPECT_EQ(out, eio::kPongProbe);
    EXPECT_EQ(eio::kPing, "2");
    EXPECT_EQ(eio::kNoop, "6");
    EXPECT_EQ(eio::kClose, "1");
    EXPECT_EQ(eio::packet_type_name(PacketType::upgrade), "upgrade");
    EXPECT_EQ(eio::decode_error_name(DecodeError::too_many_packets), "too_many_packets");
}

// --- polling payloads -------------------------------------------------------------------------

TEST(EngineIoPayload, SinglePacket) {
    const auto d = payload("4hello");
    ASSERT_EQ(d.error, DecodeError::none);
    ASSERT_EQ(d.packets.size(), 1u);
    EXPECT_EQ(d.packets[0].type, PacketType::message);
    EXPECT_EQ(d.packets[0].data, "hello");
}

TEST(EngineIoPayload, SeveralPacketsFromTheSpec) {
    const auto d = payload("4hello\x1e" "2\x1e" "4world");
    ASSERT_EQ(d.error, DecodeError::none);
    ASSERT_EQ(d.packets.size(), 3u);
    EXPECT_EQ(d.packets[0].data, "hello");
    EXPECT_EQ(d.packets[1].type, PacketType::ping);
    EXPECT_EQ(d.packets[1].data, "");
    EXPECT_EQ(d.packets[2].data, "world");
}

TEST(EngineIoPayload, WhatSocketIoClientPostsForTwoEmits) {
    // socket.emit('hello'); socket.emit('world') while polling, from the Socket.IO sample session.
    const auto d = payload("42[\"hello\"]\x1e" "42[\"world\"]");
    ASSERT_EQ(d.error, DecodeError::none);
    ASSERT_EQ(d.packets.size(), 2u);
    EXPECT_EQ(d.packets[0].data, "2[\"hello\"]");
    EXPECT_EQ(d.packets[1].data, "2[\"world\"]");
}

TEST(EngineIoPayload, TextAndBase64Binary) {
    // From the Engine.IO spec: buffer <01 02 03 04> as "bAQIDBA==".
    const auto d = payload("4hello\x1e" "bAQIDBA==");
    ASSERT_EQ(d.error, DecodeError::none);
    ASSERT_EQ(d.packets.size(), 2u);
    EXPECT_FALSE(d.packets[0].binary);
    EXPECT_EQ(d.packets[1].type, PacketType::message);
    EXPECT_TRUE(d.packets[1].binary);
    EXPECT_EQ(d.packets[1].data, std::string("\x01\x02\x03\x04"));
}

TEST(EngineIoPayload, ManyBinaryPacketsKeepTheirViews) {
    // Views into binary_storage must survive later packets being decoded into it.
    std::string body;
    std::vector<std::string> expected;
    for (int i = 0; i < 50; ++i) {
        expected.push_back(std::string(static_cast<std::size_t>(i), static_cast<char>(i)));
        eio::append_binary_to_payload(expected.back(), body);
    }
    const auto d = payload(body);
    ASSERT_EQ(d.error, DecodeError::none);
    ASSERT_EQ(d.packets.size(), 50u);
    for (std::size_t i = 0; i < 50; ++i) EXPECT_EQ(d.packets[i].data, expected[i]) << i;
}

TEST(EngineIoPayload, EmptyAndStraySeparatorsAreMalformed) {
    for (const char* body : {"", "\x1e", "4a\x1e", "\x1e" "4a", "4a\x1e\x1e" "4b"}) {
        EXPECT_EQ(payload(body).error, DecodeError::empty_packet) << testing::PrintToString(std::string(body));
    }
}

TEST(EngineIoPayload, EmptyBinaryMessage) {
    const auto d = payload("b");  // "b" + the base64 of nothing
    ASSERT_EQ(d.error, DecodeError::none);
    ASSERT_EQ(d.packets.size(), 1u);
    EXPECT_TRUE(d.packets[0].binary);
    EXPECT_EQ(d.packets[0].data, "");
}

TEST(EngineIoPayload, MalformedPackets) {
    EXPECT_EQ(payload("abc").error, DecodeError::unknown_type);  // the Engine.IO test suite's case
    EXPECT_EQ(payload("4a\x1e" "7").error, DecodeError::unknown_type);
    for (const char* body : {"bAQIDBA=", "bAQIDBA", "b====", "bAQ=DBA==", "bAQ I", "bAR==", "bAQJ=", "b!!!!"}) {
        EXPECT_EQ(payload(body).error, DecodeError::bad_base64) << body;
    }
    EXPECT_EQ(payload("4\xC3\x28").error, DecodeError::invalid_utf8);
    EXPECT_EQ(payload("4\xED\xA0\x80").error, DecodeError::invalid_utf8);  // a surrogate
}

TEST(EngineIoPayload, Bounds) {
    eio::PayloadLimits limits;
    limits.max_payload_bytes = 10;
    limits.max_packets = 3;
    EXPECT_EQ(payload("4123456789", limits).error, DecodeError::none);
    EXPECT_EQ(payload("41234567890", limits).error, DecodeError::too_big);
    EXPECT_EQ(payload("2\x1e" "2\x1e" "2", limits).error, DecodeError::none);
    EXPECT_EQ(payload("2\x1e" "2\x1e" "2\x1e" "2", limits).error, DecodeError::too_many_packets);
    // The defaults match the maxPayload announced in the open packet.
    EXPECT_EQ(eio::PayloadLimits{}.max_payload_bytes, eio::OpenInfo{}.max_payload);
    EXPECT_EQ(payload(std::string(1'000'001, '4')).error, DecodeError::too_big);
}

TEST(EngineIoPayload, EncodeJoinsWithSeparators) {
    std::string body;
    eio::append_to_payload("40{\"sid\":\"a\"}", body);
    eio::append_to_payload("42[\"welcome\",{}]", body);
    eio::append_binary_to_payload(std::string("\x01\x02\x03\x04"), body);
    EXPECT_EQ(body, "40{\"sid\":\"a\"}\x1e" "42[\"welcome\",{}]\x1e" "bAQIDBA==");

    const std::vector<eio::Packet> packets = {
        {PacketType::message, false, "hello"}, {PacketType::ping, false, ""}, {PacketType::message, true, "\x01"}};
    std::string out;
    eio::encode_payload(packets, out);
    EXPECT_EQ(out, "4hello\x1e" "2\x1e" "bAQ==");
}

TEST(EngineIoPayload, RoundTrip) {
    const std::vector<eio::Packet> packets = {
        {PacketType::message, false, "2[\"subscribe\",\"ticker.BTC-USD\"]"},
        {PacketType::message, true, std::string_view("\x00\xFF\x10", 3)},
        {PacketType::pong, false, ""},
        {PacketType::message, false, "\xE2\x82\xAC\xE2\x82\xAC"},
        {PacketType::close, false, ""},
    };
    std::string body;
    eio::encode_payload(packets, body);
    const auto d = payload(body);
    ASSERT_EQ(d.error, DecodeError::none);
    ASSERT_EQ(d.packets.size(), packets.size());
    for (std::size_t i = 0; i < packets.size(); ++i) {
        EXPECT_EQ(d.packets[i].type, packets[i].type) << i;
        EXPECT_EQ(d.packets[i].binary, packets[i].binary) << i;
        EXPECT_EQ(d.packets[i].data, packets[i].data) << i;
    }
}

// --- base64 -----------------------------------------------------------------------------------

TEST(Base64, Rfc4648Vectors) {
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [plain, encoded] : vectors) {
        EXPECT_EQ(base64(plain), encoded);
        std::string back;
        ASSERT_TRUE(tp::append_base64_decoded(encoded, back)) << encoded;
        EXPECT_EQ(back, plain);
    }
}

TEST(Base64, EveryByteRoundTrips) {
    std::string all;
    for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
    for (std::size_t n = 0; n <= all.size(); n += 37) {
        const std::string bytes = all.substr(0, n);
        std::string back;
        ASSERT_TRUE(tp::append_base64_decoded(base64(bytes), back));
        EXPECT_EQ(back, bytes);
    }
}

TEST(Base64, RejectsNonCanonicalAndJunk) {
    std::string out;
    for (const char* bad : {"Zg", "Zg=", "Zh==", "Zm9=", "Z===", "=Zg=", "Zg==Zg==", "Zm9v\n", "Zm-v", "Zm_v"}) {
        EXPECT_FALSE(tp::append_base64_decoded(bad, out)) << bad;
    }
}

// --- open packet ------------------------------------------------------------------------------

TEST(EngineIoOpen, ExactBytes) {
    std::string out;
    eio::encode_open({"lv_VI97HAXpY6yYWAAAC"}, out);
    EXPECT_EQ(out,
              R"(0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000})");
    out.clear();
    eio::encode_open({"abc", false, 300, 200, 4096}, out);
    EXPECT_EQ(out, R"(0{"sid":"abc","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":4096})");
}

// --- query ------------------------------------------------------------------------------------

TEST(EngineIoQuery, WhatSocketIoClientSends) {
    eio::Query q;
    // io(url): the first polling request, then the WebSocket upgrade with the sid.
    ASSERT_EQ(eio::parse_query("EIO=4&transport=polling&t=Ox3f5Ab", q), eio::QueryError::none);
    EXPECT_EQ(q.transport, eio::Transport::polling);
    EXPECT_EQ(q.sid, "");
    ASSERT_EQ(eio::parse_query("EIO=4&transport=websocket&sid=lv_VI97HAXpY6yYWAAAC", q), eio::QueryError::none);
    EXPECT_EQ(q.transport, eio::Transport::websocket);
    EXPECT_EQ(q.sid, "lv_VI97HAXpY6yYWAAAC");
    // Parameters in any order, the client's own `query` option and empty parameters ignored.
    ASSERT_EQ(eio::parse_query("token=a%20b&&sid=x-_9&transport=polling&EIO=4&t=1&flag", q), eio::QueryError::none);
    EXPECT_EQ(q.sid, "x-_9");
}

TEST(EngineIoQuery, Refusals) {
    eio::Query q;
    using E = eio::QueryError;
    EXPECT_EQ(eio::parse_query("transport=polling", q), E::missing_eio);
    EXPECT_EQ(eio::parse_query("", q), E::missing_eio);
    EXPECT_EQ(eio::parse_query("EIO=abc&transport=polling", q), E::unsupported_eio);
    EXPECT_EQ(eio::parse_query("EIO=3&transport=polling", q), E::unsupported_eio);
    EXPECT_EQ(eio::parse_query("EIO=04&transport=polling", q), E::unsupported_eio);
    EXPECT_EQ(eio::parse_query("EIO&transport=polling", q), E::unsupported_eio);
    EXPECT_EQ(eio::parse_query("EIO=4", q), E::missing_transport);
    EXPECT_EQ(eio::parse_query("EIO=4&transport=abc", q), E::unknown_transport);
    EXPECT_EQ(eio::parse_query("EIO=4&transport=Polling", q), E::unknown_transport);
    EXPECT_EQ(eio::parse_query("EIO=4&transport=polling&sid=", q), E::bad_sid);
    EXPECT_EQ(eio::parse_query("EIO=4&transport=polling&sid=a%2Fb", q), E::bad_sid);
    EXPECT_EQ(eio::parse_query("EIO=4&transport=polling&sid=" + std::string(65, 'a'), q), E::bad_sid);
    EXPECT_EQ(eio::parse_query("EIO=4&transport=polling&sid=" + std::string(64, 'a'), q), E::none);
    EXPECT_EQ(eio::parse_query("EIO=4&EIO=3&transport=polling", q), E::duplicate_parameter);
    EXPECT_EQ(eio::parse_query("EIO=4&transport=polling&transport=websocket", q), E::duplicate_parameter);
    EXPECT_EQ(eio::parse_query("EIO=4&transport=polling&sid=a&sid=b", q), E::duplicate_parameter);
    EXPECT_EQ(eio::parse_query("EIO=4&transport=polling&x=" + std::string(2048, 'a'), q), E::too_long);
    EXPECT_EQ(eio::query_error_name(E::unknown_transport), "unknown_transport");
}

TEST(EngineIoQuery, TargetQuery) {
    EXPECT_EQ(eio::target_query("/socket.io/?EIO=4&transport=polling"), "EIO=4&transport=polling");
    EXPECT_EQ(eio::target_query("/socket.io/?EIO=4#frag"), "EIO=4");
    EXPECT_EQ(eio::target_query("/socket.io/"), "");
    EXPECT_EQ(eio::target_query("/socket.io/?"), "");
}

TEST(EngineIoQuery, HttpErrorBodies) {
    std::string out;
    eio::encode_http_error(eio::http_error_for(eio::QueryError::unknown_transport), out);
    EXPECT_EQ(out, R"({"code":0,"message":"Transport unknown"})");
    out.clear();
    eio::encode_http_error(eio::http_error_for(eio::QueryError::unsupported_eio), out);
    EXPECT_EQ(out, R"({"code":5,"message":"Unsupported protocol version"})");
    out.clear();
    eio::encode_http_error(eio::HttpError::unknown_sid, out);
    EXPECT_EQ(out, R"({"code":1,"message":"Session ID unknown"})");
}
