#include "bench/load/topic_slots.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tickgate::load {
namespace {

TEST(TopicSlots, NumbersTopicsInOrderOfFirstSight) {
    TopicSlots t;
    EXPECT_EQ(t.find("ticker.BTC-USD"), TopicSlots::kNone);
    EXPECT_EQ(t.find_or_add("ticker.BTC-USD"), 0u);
    EXPECT_EQ(t.find_or_add("ticker.ETH-USD"), 1u);
    EXPECT_EQ(t.find_or_add("ticker.BTC-USD"), 0u);
    EXPECT_EQ(t.find("ticker.ETH-USD"), 1u);
    EXPECT_EQ(t.size(), 2u);
}

TEST(TopicSlots, TellsApartPrefixesAndLengths) {
    TopicSlots t;
    const char* topics[] = {"", "t", "ticker.A", "ticker.AB", "ticker.A-B", "ticker.A-B ",
                            "ticker.SYM0001.a-name-longer-than-the-inline-buffer"};
    for (std::uint32_t i = 0; i < std::size(topics); ++i) EXPECT_EQ(t.find_or_add(topics[i]), i) << topics[i];
    for (std::uint32_t i = 0; i < std::size(topics); ++i) EXPECT_EQ(t.find(topics[i]), i) << topics[i];
    EXPECT_EQ(t.find("ticker.ABC"), TopicSlots::kNone);
}

TEST(TopicSlots, KeepsEveryTopicAcrossGrowth) {
    TopicSlots t;
    for (std::uint32_t i = 0; i < 5000; ++i) ASSERT_EQ(t.find_or_add("ticker.SYM" + std::to_string(i)), i);
    for (std::uint32_t i = 0; i < 5000; ++i) ASSERT_EQ(t.find("ticker.SYM" + std::to_string(i)), i);
    EXPECT_EQ(t.find("ticker.SYM5000"), TopicSlots::kNone);
    t.clear();
    EXPECT_EQ(t.size(), 0u);
    EXPECT_EQ(t.find("ticker.SYM1"), TopicSlots::kNone);
    EXPECT_EQ(t.find_or_add("ticker.SYM1"), 0u);
}

TEST(TopicSlots, HashDependsOnEveryByte) {
    const std::string a = "ticker.SYM0001x";
    for (std::size_t i = 0; i < a.size(); ++i) {
        std::string b = a;
        b[i] ^= 1;
        EXPECT_NE(TopicSlots::hash(a), TopicSlots::hash(b)) << i;
    }
    EXPECT_NE(TopicSlots::hash(std::string_view("ab\0", 3)), TopicSlots::hash("ab"));
}

}  // namespace
}  // namespace tickgate::load
