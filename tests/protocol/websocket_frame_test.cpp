#include "protocol/websocket_frame.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace tp = tickgate::protocol;
using tp::ClientMessage;
using tp::FrameError;
using tp::FrameReader;

namespace {

struct ClientFrame {
    std::uint8_t opcode = 0x1;
    std::string payload;
    bool fin = true;
    bool masked = true;
    std::uint8_t rsv = 0;  // shifted into bits 4-6
    int len_form = 0;      // 0 = minimal, 16 or 64 forces that extended length
    std::uint64_t declared_len = UINT64_MAX;  // overrides the payload length field when set
};

std::string build(const ClientFrame& f) {
    std::string out;
    out += static_cast<char>((f.fin ? 0x80 : 0) | (f.rsv << 4) | f.opcode);
    const std::uint64_t n = f.declared_len != UINT64_MAX ? f.declared_len : f.payload.size();
    const char mask_bit = f.masked ? static_cast<char>(0x80) : 0;
    if (f.len_form == 0 && n <= 125) {
        out += static_cast<char>(mask_bit | static_cast<char>(n));
    } else if (f.len_form != 64 && n <= 0xFFFF) {
        out += static_cast<char>(mask_bit | 126);
        out += static_cast<char>(n >> 8);
        out += static_cast<char>(n & 0xFF);
    } else {
        out += static_cast<char>(mask_bit | 127);
        for (int i = 7; i >= 0; --i) out += static_cast<char>((n >> (8 * i)) & 0xFF);
    }
    const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
    if (f.masked) out.append(reinterpret_cast<const char*>(key), 4);
    for (std::size_t i = 0; i < f.payload.size(); ++i) {
        out += f.masked ? static_cast<char>(f.payload[i] ^ key[i % 4]) : f.payload[i];
    }
    return out;
}

std::string text(const std::string& payload) { return build({0x1, payload}); }

std::string close_payload(std::uint16_t code, const std::string& reason = {}) {
    std::string p;
    p += static_cast<char>(code >> 8);
    p += static_cast<char>(code & 0xFF);
    return p + reason;
}

struct Got {
    ClientMessage::Kind kind;
    std::string payload;
    std::uint16_t close_code = 0;
    std::string close_reason;
};

/// Feeds `bytes` in chunks of `chunk` and collects every message; stops at an error.
std::vector<Got> read_all(FrameReader& r, const std::string& bytes, std::size_t chunk) {
    std::vector<Got> got;
    for (std::size_t pos = 0; pos < bytes.size(); pos += chunk) {
        std::string_view data = std::string_view(bytes).substr(pos, chunk);
        ClientMessage m;
        while (r.next(data, m)) {
            got.push_back({m.kind, std::string(m.payload), m.close_code, std::string(m.close_reason)});
        }
        if (r.error() != FrameError::none) break;
        EXPECT_TRUE(data.empty());
    }
    return got;
}

FrameError error_of(const std::string& bytes, std::size_t max = 4096) {
    FrameReader r(max);
    read_all(r, bytes, bytes.size() ? bytes.size() : 1);
    return r.error();
}

}  // namespace

TEST(WriteFrameHeader, LengthForms) {
    std::uint8_t h[tp::kMaxFrameHeader];
    ASSERT_EQ(tp::write_frame_header(h, tp::Opcode::text, 0), 2u);
    EXPECT_EQ(h[0], 0x81);
    EXPECT_EQ(h[1], 0);
    ASSERT_EQ(tp::write_frame_header(h, tp::Opcode::text, 125), 2u);
    EXPECT_EQ(h[1], 125);
    ASSERT_EQ(tp::write_frame_header(h, tp::Opcode::binary, 126), 4u);
    EXPECT_EQ(h[0], 0x82);
    EXPECT_EQ(h[1], 126);
    EXPECT_EQ(h[2], 0);
    EXPECT_EQ(h[3], 126);
    ASSERT_EQ(tp::write_frame_header(h, tp::Opcode::text, 65535), 4u);
    EXPECT_EQ(h[2], 0xFF);
    EXPECT_EQ(h[3], 0xFF);
    ASSERT_EQ(tp::write_frame_header(h, tp::Opcode::text, 65536), 10u);
    EXPECT_EQ(h[1], 127);
    const std::uint8_t expect[8] = {0, 0, 0, 0, 0, 1, 0, 0};
    EXPECT_EQ(std::memcmp(h + 2, expect, 8), 0);
    ASSERT_EQ(tp::write_frame_header(h, tp::Opcode::ping, 5), 2u);
    EXPECT_EQ(h[0], 0x89);
}

TEST(AppendFrame, HeaderThenPayload) {
    std::string out = "x";
    tp::append_frame(out, tp::Opcode::text, "hi");
    EXPECT_EQ(out, std::string("x\x81\x02hi"));
    out.clear();
    tp::append_frame(out, tp::Opcode::binary, std::string(300, 'a'));
    EXPECT_EQ(out.size(), 304u);
    EXPECT_EQ(out.substr(0, 4), std::string("\x82\x7e\x01\x2c", 4));
}

TEST(AppendCloseFrame, CodeReasonAndTruncation) {
    std::string out;
    tp::append_close_frame(out, 1008, "slow consumer");
    EXPECT_EQ(out, std::string("\x88\x0f\x03\xf0slow consumer", 17));
    out.clear();
    tp::append_close_frame(out, 1001, std::string(200, 'r'));
    ASSERT_EQ(out.size(), 2u + 125u);
    EXPECT_EQ(static_cast<unsigned char>(out[1]), 125);
    // 61 two-byte characters = 122 bytes; a 62nd would straddle the 123-byte limit and is dropped.
    std::string accents;
    for (int i = 0; i < 70; ++i) accents += "\xC3\xA9";
    out.clear();
    tp::append_close_frame(out, 1000, accents);
    ASSERT_EQ(out.size(), 2u + 2u + 122u);
    EXPECT_EQ(out.substr(4), accents.substr(0, 122));
}

TEST(FrameReader, SimpleTextAndOwnFramesRoundTrip) {
    FrameReader r(4096);
    const auto got = read_all(r, text("{\"op\":\"ping\"}"), 1000);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].kind, ClientMessage::Kind::text);
    EXPECT_EQ(got[0].payload, "{\"op\":\"ping\"}");
    EXPECT_EQ(r.error(), FrameError::none);
}

TEST(FrameReader, ExtendedLengths) {
    const std::string p16(70000 / 2, 'a');
    const std::string p64(70000, 'b');
    FrameReader r(100000);
    const auto got = read_all(r, build({0x2, p16}) + build({0x1, p64}) + build({0x1, "x", true, true, 0, 64}), 1 << 20);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].kind, ClientMessage::Kind::binary);
    EXPECT_EQ(got[0].payload, p16);
    EXPECT_EQ(got[1].payload, p64);
    EXPECT_EQ(got[2].payload, "x");  // non-minimal length encoding is tolerated
}

TEST(FrameReader, SplitAtEveryByteBoundary) {
    const std::string payload = "{\"op\":\"subscribe\",\"topics\":[\"ticker.BTC-USD\"]} \xC3\xA9";
    const std::string bytes = text(payload) + build({0x9, "pi"}) + build({0x2, std::string(300, '\x01')}) +
                              build({0x1, ""}) + build({0x8, close_payload(1000, "bye")});
    for (std::size_t split = 0; split <= bytes.size(); ++split) {
        FrameReader r(4096);
        std::vector<Got> got;
        for (std::string part : {bytes.substr(0, split), bytes.substr(split)}) {
            std::string_view data = part;
            ClientMessage m;
            while (r.next(data, m)) got.push_back({m.kind, std::string(m.payload), m.close_code, std::string(m.close_reason)});
            ASSERT_TRUE(data.empty());
        }
        ASSERT_EQ(r.error(), FrameError::none) << split;
        ASSERT_EQ(got.size(), 5u) << split;
        EXPECT_EQ(got[0].payload, payload);
        EXPECT_EQ(got[1].kind, ClientMessage::Kind::ping);
        EXPECT_EQ(got[1].payload, "pi");
        EXPECT_EQ(got[2].payload, std::string(300, '\x01'));
        EXPECT_EQ(got[3].kind, ClientMessage::Kind::text);
        EXPECT_EQ(got[3].payload, "");
        EXPECT_EQ(got[4].kind, ClientMessage::Kind::close);
        EXPECT_EQ(got[4].close_code, 1000);
        EXPECT_EQ(got[4].close_reason, "bye");
    }
    FrameReader bytewise(4096);
    EXPECT_EQ(read_all(bytewise, bytes, 1).size(), 5u);
}

TEST(FrameReader, FragmentationWithInterleavedPing) {
    // "é" split across fragments must be judged on the whole message.
    const std::string bytes = build({0x1, "hel", false}) + build({0x9, "p1"}) + build({0x0, "lo \xC3", false}) +
                              build({0xA, ""}) + build({0x0, "\xA9", true}) + build({0x2, "b1", false}) +
                              build({0x0, "b2", true});
    for (std::size_t chunk : {std::size_t{1}, std::size_t{3}, std::size_t{7}, bytes.size()}) {
        FrameReader r(4096);
        const auto got = read_all(r, bytes, chunk);
        ASSERT_EQ(r.error(), FrameError::none) << chunk;
        ASSERT_EQ(got.size(), 4u) << chunk;
        EXPECT_EQ(got[0].kind, ClientMessage::Kind::ping);
        EXPECT_EQ(got[0].payload, "p1");
        EXPECT_EQ(got[1].kind, ClientMessage::Kind::pong);
        EXPECT_EQ(got[2].kind, ClientMessage::Kind::text);
        EXPECT_EQ(got[2].payload, "hello \xC3\xA9");
        EXPECT_EQ(got[3].kind, ClientMessage::Kind::binary);
        EXPECT_EQ(got[3].payload, "b1b2");
    }
}

TEST(FrameReader, UnmaskedIsProtocolErrorAsSoonAsTwoBytesArrive) {
    FrameReader r(4096);
    std::string_view data("\x81\x05", 2);
    ClientMessage m;
    EXPECT_FALSE(r.next(data, m));
    EXPECT_EQ(r.error(), FrameError::protocol_error);
}

TEST(FrameReader, ReservedBitsAndOpcodes) {
    for (std::uint8_t rsv = 1; rsv < 8; ++rsv) EXPECT_EQ(error_of(build({0x1, "x", true, true, rsv})), FrameError::protocol_error);
    for (std::uint8_t op : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
        EXPECT_EQ(error_of(build({op, "x"})), FrameError::protocol_error) << int(op);
    }
}

TEST(FrameReader, ControlFrameRules) {
    EXPECT_EQ(error_of(build({0x9, "x", false})), FrameError::protocol_error);  // fragmented ping
    EXPECT_EQ(error_of(build({0x9, std::string(126, 'p')})), FrameError::protocol_error);
    EXPECT_EQ(error_of(build({0x9, std::string(125, 'p')})), FrameError::none);
    EXPECT_EQ(error_of(build({0xA, "x", true, true, 0, 16})), FrameError::protocol_error);  // 126 length form
}

TEST(FrameReader, ContinuationRules) {
    EXPECT_EQ(error_of(build({0x0, "x"})), FrameError::protocol_error);
    EXPECT_EQ(error_of(build({0x1, "a", false}) + build({0x1, "b"})), FrameError::protocol_error);
    EXPECT_EQ(error_of(build({0x2, "a", false}) + build({0x2, "b"})), FrameError::protocol_error);
    EXPECT_EQ(error_of(text("a") + build({0x0, "b"})), FrameError::protocol_error);
}

TEST(FrameReader, SixtyFourBitLengthWithTopBitSet) {
    ClientFrame f{0x2, ""};
    f.declared_len = 0x8000000000000000ULL;
    EXPECT_EQ(error_of(build(f), SIZE_MAX), FrameError::protocol_error);
}

TEST(FrameReader, TooBigDetectedFromTheHeader) {
    EXPECT_EQ(error_of(text(std::string(100, 'a')), 100), FrameError::none);
    // Only the header is sent: the reader must refuse before any payload arrives.
    ClientFrame f{0x1, ""};
    f.declared_len = 101;
    EXPECT_EQ(error_of(build(f), 100), FrameError::too_big);
    f.declared_len = UINT64_MAX >> 1;
    EXPECT_EQ(error_of(build(f), 100), FrameError::too_big);
}

TEST(FrameReader, TooBigCountsAllFragments) {
    const std::string bytes = build({0x1, std::string(60, 'a'), false}) + build({0x9, std::string(100, 'p')}) +
                              build({0x0, std::string(40, 'b'), false}) + build({0x0, "c", true});
    EXPECT_EQ(error_of(bytes, 100), FrameError::too_big);
    EXPECT_EQ(error_of(bytes, 101), FrameError::none);
}

TEST(FrameReader, InvalidUtf8) {
    EXPECT_EQ(error_of(text("ok\xFF")), FrameError::invalid_utf8);
    EXPECT_EQ(error_of(text("\xC0\xAF")), FrameError::invalid_utf8);          // overlong
    EXPECT_EQ(error_of(text("\xED\xA0\x80")), FrameError::invalid_utf8);      // surrogate
    EXPECT_EQ(error_of(text("\xF4\x90\x80\x80")), FrameError::invalid_utf8);  // above U+10FFFF
    EXPECT_EQ(error_of(build({0x1, "a\xC3", false}) + build({0x0, "b"})), FrameError::invalid_utf8);
    EXPECT_EQ(error_of(build({0x1, "a\xE2\x82", true})), FrameError::invalid_utf8);  // truncated at the end
    EXPECT_EQ(error_of(build({0x2, "\xFF\xFE"})), FrameError::none);                 // binary is not checked
    EXPECT_EQ(error_of(build({0x9, "\xFF"})), FrameError::none);                     // nor are pings
    EXPECT_EQ(error_of(text("\xF0\x9F\x98\x80 \xE2\x82\xAC")), FrameError::none);
}

TEST(FrameReader, CloseFrames) {
    FrameReader r(4096);
    auto got = read_all(r, build({0x8, ""}), 64);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].kind, ClientMessage::Kind::close);
    EXPECT_EQ(got[0].close_code, 1005);
    EXPECT_EQ(got[0].close_reason, "");

    for (std::uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999}) {
        FrameReader ok(4096);
        got = read_all(ok, build({0x8, close_payload(code, "why")}), 64);
        ASSERT_EQ(got.size(), 1u) << code;
        EXPECT_EQ(got[0].close_code, code);
        EXPECT_EQ(got[0].close_reason, "why");
    }
    for (std::uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535}) {
        EXPECT_EQ(error_of(build({0x8, close_payload(code)})), FrameError::protocol_error) << code;
    }
    EXPECT_EQ(error_of(build({0x8, "\x03"})), FrameError::protocol_error);
    EXPECT_EQ(error_of(build({0x8, close_payload(1000, "\xFF")})), FrameError::invalid_utf8);
}

TEST(FrameReader, AfterAnErrorNothingIsConsumed) {
    FrameReader r(4096);
    const std::string bad = build({0x3, "x"});
    std::string_view data = bad;
    ClientMessage m;
    EXPECT_FALSE(r.next(data, m));
    ASSERT_EQ(r.error(), FrameError::protocol_error);
    const std::string more = text("hello");
    std::string_view rest = more;
    EXPECT_FALSE(r.next(rest, m));
    EXPECT_EQ(rest.size(), more.size());
    EXPECT_EQ(r.error(), FrameError::protocol_error);
}

TEST(FrameReader, PayloadDoesNotPointIntoTheInput) {
    // The caller reuses its read buffer once next() has consumed it; the payload must survive that.
    FrameReader r(4096);
    std::string buffer = text("first");
    std::string_view data = buffer;
    ClientMessage m;
    ASSERT_TRUE(r.next(data, m));
    std::fill(buffer.begin(), buffer.end(), '\0');
    EXPECT_EQ(m.payload, "first");
    buffer = build({0x9, "ping!"});
    data = buffer;
    ASSERT_TRUE(r.next(data, m));
    std::fill(buffer.begin(), buffer.end(), '\0');
    EXPECT_EQ(m.payload, "ping!");
}

TEST(FrameReader, AnIdleReaderHoldsNoPayloadBufferAfterALargeMessage) {
    // One 60 KB subscribe must not stay reserved for the rest of the connection: with 10,000
    // clients that would be 600 MB held for nothing.
    FrameReader r(65536);
    const std::string big(60000, 'x');
    const auto got = read_all(r, text(big) + build({0x9, std::string(100, 'p')}), 1 << 20);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].payload, big);
    EXPECT_EQ(got[1].payload, std::string(100, 'p'));
    EXPECT_EQ(r.held_bytes(), 0u) << "the reader kept the buffers of messages already handed over";

    // Only what the caller has handled goes: a message in progress keeps its fragments across a
    // control frame, and the payload handed over stays valid until the next call.
    const std::string first = build({0x1, std::string(1000, 'a'), false}) + build({0x9, std::string(50, 'q')});
    std::string_view data = first;
    ClientMessage m;
    ASSERT_TRUE(r.next(data, m));
    EXPECT_EQ(m.kind, ClientMessage::Kind::ping);
    EXPECT_EQ(m.payload, std::string(50, 'q'));
    EXPECT_FALSE(r.next(data, m));
    EXPECT_GE(r.held_bytes(), 1000u) << "the first fragment is still needed";
    const std::string last = build({0x0, "zz", true});
    data = last;
    ASSERT_TRUE(r.next(data, m));
    EXPECT_EQ(m.payload, std::string(1000, 'a') + "zz");
    EXPECT_FALSE(r.next(data, m));
    EXPECT_EQ(r.held_bytes(), 0u);
}

namespace tickgate::protocol {
namespace {

TEST(ServerFrames, TakeReadsBackEveryLengthEncodingWeWrite) {
    std::string frames;
    append_frame(frames, Opcode::text, "hi");
    append_frame(frames, Opcode::text, std::string(300, 'x'));     // 16-bit length
    append_frame(frames, Opcode::text, std::string(70000, 'y'));   // 64-bit length
    append_close_frame(frames, 1008, "slow consumer");
    std::string_view rest = frames;
    ServerFrame f;
    ASSERT_TRUE(take_server_frame(rest, f));
    EXPECT_EQ(f.opcode, Opcode::text);
    EXPECT_EQ(f.payload, "hi");
    ASSERT_TRUE(take_server_frame(rest, f));
    EXPECT_EQ(f.payload.size(), 300u);
    ASSERT_TRUE(take_server_frame(rest, f));
    EXPECT_EQ(f.payload.size(), 70000u);
    ASSERT_TRUE(take_server_frame(rest, f));
    EXPECT_EQ(f.opcode, Opcode::close);
    EXPECT_EQ(f.payload.substr(2), "slow consumer");
    EXPECT_FALSE(take_server_frame(rest, f));
    std::string_view truncated = std::string_view(frames).substr(4, 2);  // "\x81\x7e" without its length
    EXPECT_FALSE(take_server_frame(truncated, f));
}

}  // namespace
}  // namespace tickgate::protocol
