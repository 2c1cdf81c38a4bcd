#include "bench/load/client_frame.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tickgate::load {
namespace {

std::string server_frame(unsigned char first, std::string_view payload) {
    std::string f(1, static_cast<char>(first));
    if (payload.size() < 126) {
        f.push_back(static_cast<char>(payload.size()));
    } else if (payload.size() <= 0xFFFF) {
        f.push_back(126);
        f.push_back(static_cast<char>(payload.size() >> 8));
        f.push_back(static_cast<char>(payload.size() & 0xFF));
    } else {
        f.push_back(127);
        for (int s = 56; s >= 0; s -= 8) f.push_back(static_cast<char>((payload.size() >> s) & 0xFF));
    }
    return f + std::string(payload);
}

std::string unmask(std::string_view frame, std::size_t header) {
    std::string out(frame.substr(header + 4));
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(out[i] ^ frame[header + (i & 3)]);
    return out;
}

TEST(ClientFrame, SmallTextFrameIsMaskedWithTheKey) {
    std::string out;
    append_client_frame(out, WsOpcode::text, "hello", 0x01020304);
    ASSERT_EQ(out.size(), 2u + 4 + 5);
    EXPECT_EQ(static_cast<unsigned char>(out[0]), 0x81);
    EXPECT_EQ(static_cast<unsigned char>(out[1]), 0x80 | 5);
    EXPECT_EQ(out.substr(2, 4), std::string("\x01\x02\x03\x04", 4));
    EXPECT_EQ(unmask(out, 2), "hello");
}

TEST(ClientFrame, MediumAndLargeLengthsUseExtendedHeaders) {
    std::string out;
    const std::string medium(300, 'x');
    append_client_frame(out, WsOpcode::binary, medium, 0xA1B2C3D4);
    EXPECT_EQ(static_cast<unsigned char>(out[1]), 0x80 | 126);
    EXPECT_EQ((static_cast<unsigned char>(out[2]) << 8) | static_cast<unsigned char>(out[3]), 300);
    EXPECT_EQ(unmask(out, 4), medium);
    out.clear();
    const std::string large(70000, 'y');
    append_client_frame(out, WsOpcode::text, large, 0xA1B2C3D4);
    EXPECT_EQ(static_cast<unsigned char>(out[1]), 0x80 | 127);
    EXPECT_EQ(unmask(out, 10), large);
}

TEST(ClientFrame, CloseCarriesItsCode) {
    std::string out;
    append_client_close(out, 1000, "bye", 0);
    EXPECT_EQ(static_cast<unsigned char>(out[0]), 0x88);
    EXPECT_EQ(close_code_of(unmask(out, 2)), 1000);
    EXPECT_EQ(close_code_of(""), 1005);
}

TEST(DecodeServerFrame, DecodesFramesOfEverySize) {
    for (std::size_t n : {0u, 5u, 125u, 126u, 65535u, 65536u}) {
        const std::string payload(n, 'p');
        const auto f = server_frame(0x81, payload);
        ServerFrame frame;
        std::size_t consumed = 0, needed = 0;
        ASSERT_EQ(decode_server_frame(f, 1 << 20, frame, consumed, needed), DecodeStatus::frame) << n;
        EXPECT_EQ(consumed, f.size());
        EXPECT_EQ(frame.op, WsOpcode::text);
        EXPECT_TRUE(frame.fin);
        EXPECT_EQ(frame.payload.size(), n);
    }
}

TEST(DecodeServerFrame, PartialFramesAskForMoreAndSayHowMuch) {
    const auto f = server_frame(0x81, std::string(1000, 'a'));
    ServerFrame frame;
    std::size_t consumed = 0, needed = 0;
    EXPECT_EQ(decode_server_frame(std::string_view(f).substr(0, 1), 1 << 20, frame, consumed, needed), DecodeStatus::need_more);
    EXPECT_EQ(decode_server_frame(std::string_view(f).substr(0, 3), 1 << 20, frame, consumed, needed), DecodeStatus::need_more);
    EXPECT_EQ(decode_server_frame(std::string_view(f).substr(0, 500), 1 << 20, frame, consumed, needed), DecodeStatus::need_more);
    EXPECT_EQ(needed, f.size());
}

TEST(DecodeServerFrame, TwoFramesBackToBack) {
    const auto data = server_frame(0x81, "one") + server_frame(0x89, "hb");
    ServerFrame frame;
    std::size_t consumed = 0, needed = 0;
    ASSERT_EQ(decode_server_frame(data, 1024, frame, consumed, needed), DecodeStatus::frame);
    EXPECT_EQ(frame.payload, "one");
    ASSERT_EQ(decode_server_frame(std::string_view(data).substr(consumed), 1024, frame, consumed, needed), DecodeStatus::frame);
    EXPECT_EQ(frame.op, WsOpcode::ping);
    EXPECT_EQ(frame.payload, "hb");
}

TEST(DecodeServerFrame, RejectsWhatAServerMustNotSend) {
    ServerFrame frame;
    std::size_t consumed = 0, needed = 0;
    const std::string masked = "\x81\x81\x00\x00\x00\x00x";
    EXPECT_EQ(decode_server_frame(masked, 1024, frame, consumed, needed), DecodeStatus::error);
    EXPECT_EQ(decode_server_frame(server_frame(0xC1, "rsv"), 1024, frame, consumed, needed), DecodeStatus::error);
    EXPECT_EQ(decode_server_frame(server_frame(0x83, "op"), 1024, frame, consumed, needed), DecodeStatus::error);
    EXPECT_EQ(decode_server_frame(server_frame(0x09, "unfinished ping"), 1024, frame, consumed, needed), DecodeStatus::error);
    EXPECT_EQ(decode_server_frame(server_frame(0x89, std::string(126, 'x')), 1024, frame, consumed, needed), DecodeStatus::error);
    EXPECT_EQ(decode_server_frame(server_frame(0x81, std::string(2000, 'x')), 1024, frame, consumed, needed), DecodeStatus::error);
}

TEST(MessageAssembler, JoinsFragmentsAndPassesWholeMessages) {
    MessageAssembler a;
    std::string_view message;
    WsOpcode op;
    ASSERT_TRUE(a.add({WsOpcode::text, true, "whole"}, message, op));
    EXPECT_EQ(message, "whole");
    EXPECT_FALSE(a.add({WsOpcode::text, false, "ab"}, message, op));
    EXPECT_FALSE(a.add({WsOpcode::continuation, false, "cd"}, message, op));
    ASSERT_TRUE(a.add({WsOpcode::continuation, true, "ef"}, message, op));
    EXPECT_EQ(message, "abcdef");
    EXPECT_EQ(op, WsOpcode::text);
    EXPECT_FALSE(a.error());
    EXPECT_FALSE(a.add({WsOpcode::continuation, true, "stray"}, message, op));
    EXPECT_TRUE(a.error());
}

}  // namespace
}  // namespace tickgate::load
