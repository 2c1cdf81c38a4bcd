#include "protocol/entitlement.hpp"

#include <gtest/gtest.h>

namespace tickgate::protocol {
namespace {

TEST(PatternCovers, ExactTopicCoversOnlyItself) {
    EXPECT_TRUE(pattern_covers("ticker.BTC-USD", "ticker.BTC-USD"));
    EXPECT_FALSE(pattern_covers("ticker.BTC-USD", "ticker.ETH-USD"));
    EXPECT_FALSE(pattern_covers("ticker.BTC-USD", "book10.BTC-USD"));
}

TEST(PatternCovers, ExactTopicDoesNotCoverPatternsThatReachFurther) {
    // Only ticker.BTC-USD allowed: a pattern would also match topics the client may not see.
    EXPECT_FALSE(pattern_covers("ticker.BTC-USD", "ticker.*"));
    EXPECT_FALSE(pattern_covers("ticker.BTC-USD", "*.*"));
    EXPECT_FALSE(pattern_covers("ticker.BTC-USD", "*.BTC-USD"));
}

TEST(PatternCovers, ChannelPatternCoversItsTopicsAndItself) {
    EXPECT_TRUE(pattern_covers("ticker.*", "ticker.BTC-USD"));
    EXPECT_TRUE(pattern_covers("ticker.*", "ticker.*"));
    EXPECT_FALSE(pattern_covers("ticker.*", "*.*"));
    EXPECT_FALSE(pattern_covers("ticker.*", "*.BTC-USD"));
    EXPECT_FALSE(pattern_covers("ticker.*", "trades.BTC-USD"));
}

TEST(PatternCovers, SymbolPatternCoversThatSymbolOnEveryChannel) {
    EXPECT_TRUE(pattern_covers("*.BTC-USD", "book50.BTC-USD"));
    EXPECT_TRUE(pattern_covers("*.BTC-USD", "*.BTC-USD"));
    EXPECT_FALSE(pattern_covers("*.BTC-USD", "ticker.*"));
    EXPECT_FALSE(pattern_covers("*.BTC-USD", "*.*"));
}

TEST(PatternCovers, AnyCoversEverything) {
    EXPECT_TRUE(pattern_covers("*.*", "*.*"));
    EXPECT_TRUE(pattern_covers("*.*", "ticker.*"));
    EXPECT_TRUE(pattern_covers("*.*", "trades.ETH-USD"));
}

TEST(PatternCovers, NoDotCoversNothing) {
    EXPECT_FALSE(pattern_covers("ticker", "ticker.BTC-USD"));
    EXPECT_FALSE(pattern_covers("*.*", "ticker"));
}

TEST(Entitlement, EverythingAllowsAnyEntry) {
    const auto e = Entitlement::everything();
    EXPECT_TRUE(e.allows_everything());
    EXPECT_TRUE(e.allows("*.*"));
}

TEST(Entitlement, OnlyAllowsWhatOnePatternCovers) {
    const auto e = Entitlement::only({"ticker.BTC-USD", "trades.*"});
    EXPECT_FALSE(e.allows_everything());
    EXPECT_TRUE(e.allows("ticker.BTC-USD"));
    EXPECT_TRUE(e.allows("trades.*"));
    EXPECT_TRUE(e.allows("trades.ETH-USD"));
    EXPECT_FALSE(e.allows("ticker.*"));
    EXPECT_FALSE(e.allows("*.*"));
    EXPECT_FALSE(e.allows("ticker.ETH-USD"));
}

TEST(Entitlement, AThrottledEntryIsAllowedAsItsBase) {
    const auto e = Entitlement::only({"ticker.BTC-USD", "book.*"});
    EXPECT_TRUE(e.allows("ticker.BTC-USD@1000ms"));
    EXPECT_TRUE(e.allows("book.*@250ms"));
    EXPECT_FALSE(e.allows("ticker.*@1000ms")) << "the suffix does not widen what the base may see";
    EXPECT_FALSE(e.allows("*.*@250ms"));
}

TEST(Entitlement, EmptyListAllowsNothing) {
    const auto e = Entitlement::only({});
    EXPECT_FALSE(e.allows("ticker.BTC-USD"));
}

}  // namespace
}  // namespace tickgate::protocol
