#include "protocol/utf8.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tp = tickgate::protocol;

TEST(Utf8, ValidSequences) {
    EXPECT_TRUE(tp::is_valid_utf8(""));
    EXPECT_TRUE(tp::is_valid_utf8("plain ascii that is longer than eight bytes"));
    EXPECT_TRUE(tp::is_valid_utf8("\xC2\x80 \xDF\xBF \xE0\xA0\x80 \xEF\xBF\xBF \xF0\x90\x80\x80 \xF4\x8F\xBF\xBF"));
    EXPECT_TRUE(tp::is_valid_utf8(std::string_view("\0", 1)));
    EXPECT_EQ(tp::utf8_sequence_length("\xE2\x82\xAC!"), 3u);
}

TEST(Utf8, InvalidSequences) {
    for (const char* bad : {"\x80", "\xBF", "\xC0\x80", "\xC1\xBF", "\xE0\x9F\xBF", "\xED\xA0\x80", "\xED\xBF\xBF",
                            "\xF0\x8F\xBF\xBF", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xFF", "\xC3", "\xE2\x82",
                            "\xF0\x9F\x98", "\xC3\x28", "12345678\xC3"}) {
        EXPECT_FALSE(tp::is_valid_utf8(bad)) << bad;
    }
    EXPECT_EQ(tp::utf8_sequence_length(""), 0u);
}

TEST(Utf8, TruncateOnBoundary) {
    EXPECT_EQ(tp::utf8_truncate("abc", 5), "abc");
    EXPECT_EQ(tp::utf8_truncate("abc", 2), "ab");
    EXPECT_EQ(tp::utf8_truncate("a\xE2\x82\xAC", 3), "a");
    EXPECT_EQ(tp::utf8_truncate("a\xE2\x82\xAC", 4), "a\xE2\x82\xAC");
    EXPECT_EQ(tp::utf8_truncate("\xC3\xA9\xC3\xA9", 3), "\xC3\xA9");
    EXPECT_EQ(tp::utf8_truncate("abc", 0), "");
}
