#include "gateway/fanout/frame.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tickgate::gateway {
namespace {

TEST(Frame, SmallPayloadGetsATwoByteHeaderInFrontWithoutCopying) {
    auto f = make_text_frame([](std::string& out) { out += "{\"a\":1}"; });
    const auto bytes = f->bytes();
    ASSERT_EQ(bytes.size(), 2u + 7u);
    EXPECT_EQ(static_cast<unsigned char>(bytes[0]), 0x81);  // FIN + text
    EXPECT_EQ(static_cast<unsigned char>(bytes[1]), 7);     // unmasked, length 7
    EXPECT_EQ(bytes.substr(2), "{\"a\":1}");
}

TEST(Frame, MediumPayloadUsesTheSixteenBitLength) {
    const std::string payload(300, 'p');
    auto f = make_text_frame([&](std::string& out) { out += payload; });
    const auto bytes = f->bytes();
    ASSERT_EQ(bytes.size(), 4u + 300u);
    EXPECT_EQ(static_cast<unsigned char>(bytes[1]), 126);
    EXPECT_EQ((static_cast<unsigned char>(bytes[2]) << 8) | static_cast<unsigned char>(bytes[3]), 300);
    EXPECT_EQ(bytes.substr(4), payload);
}

TEST(Frame, AppendTextFrameAppendsAfterExistingBytes) {
    std::string out = "prefix";
    append_text_frame(out, [](std::string& o) { o += "hello"; });
    append_text_frame(out, [](std::string& o) { o += std::string(200, 'x'); });
    ASSERT_EQ(out.size(), 6u + 2u + 5u + 4u + 200u);
    EXPECT_EQ(out.substr(0, 6), "prefix");
    EXPECT_EQ(static_cast<unsigned char>(out[6]), 0x81);
    EXPECT_EQ(static_cast<unsigned char>(out[7]), 5);
    EXPECT_EQ(out.substr(8, 5), "hello");
    EXPECT_EQ(static_cast<unsigned char>(out[13]), 0x81);
    EXPECT_EQ(static_cast<unsigned char>(out[14]), 126);
    EXPECT_EQ(out.substr(17), std::string(200, 'x'));
}

}  // namespace
}  // namespace tickgate::gateway
