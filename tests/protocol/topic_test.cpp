#include "protocol/topic.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace tp = tickgate::protocol;
using tp::EntryKind;

TEST(Topic, ReservedChannels) {
    for (const char* r : {"message", "error", "welcome", "status", "subscribed", "unsubscribed", "topics", "pong",
                          "connect", "disconnect"}) {
        EXPECT_TRUE(tp::is_reserved_channel(r)) << r;
        EXPECT_FALSE(tp::is_valid_channel(r)) << r;
        EXPECT_EQ(tp::classify_entry(std::string(r) + ".BTC-USD"), EntryKind::invalid) << r;
        EXPECT_EQ(tp::classify_entry(std::string(r) + ".*"), EntryKind::invalid) << r;
    }
    EXPECT_FALSE(tp::is_reserved_channel("ticker"));
    EXPECT_FALSE(tp::is_reserved_channel("errors"));
    EXPECT_TRUE(tp::is_valid_channel("errors"));
    EXPECT_TRUE(tp::is_valid_channel("pong2"));
}

TEST(Topic, ChannelGrammar) {
    EXPECT_TRUE(tp::is_valid_channel("ticker"));
    EXPECT_TRUE(tp::is_valid_channel("perp_v2"));
    EXPECT_TRUE(tp::is_valid_channel("_"));
    EXPECT_TRUE(tp::is_valid_channel("9"));
    EXPECT_FALSE(tp::is_valid_channel(""));
    EXPECT_FALSE(tp::is_valid_channel("Ticker"));
    EXPECT_FALSE(tp::is_valid_channel("tick-er"));
    EXPECT_FALSE(tp::is_valid_channel("tick.er"));
    EXPECT_FALSE(tp::is_valid_channel("*"));
    EXPECT_FALSE(tp::is_valid_channel("tick er"));
}

TEST(Topic, SymbolGrammar) {
    EXPECT_TRUE(tp::is_valid_symbol("BTC-USD"));
    EXPECT_TRUE(tp::is_valid_symbol("1INCH-USDT"));
    EXPECT_TRUE(tp::is_valid_symbol("A-B"));
    for (const char* bad : {"", "BTC", "BTCUSD", "-USD", "BTC-", "BTC--USD", "BTC-USD-PERP", "btc-usd", "BTC_USD",
                            "BTC-US D", "*", "BTC-*"}) {
        EXPECT_FALSE(tp::is_valid_symbol(bad)) << bad;
    }
}

TEST(Topic, ClassifyExactTopics) {
    EXPECT_EQ(tp::classify_entry("ticker.BTC-USD"), EntryKind::topic);
    EXPECT_EQ(tp::classify_entry("a.B-C"), EntryKind::topic);
    EXPECT_EQ(tp::classify_entry("perp_2.ETH-USDT"), EntryKind::topic);
}

TEST(Topic, ClassifyPatterns) {
    EXPECT_EQ(tp::classify_entry("ticker.*"), EntryKind::pattern);
    EXPECT_EQ(tp::classify_entry("*.BTC-USD"), EntryKind::pattern);
    EXPECT_EQ(tp::classify_entry("*.*"), EntryKind::pattern);
}

TEST(Topic, ClassifyInvalid) {
    for (const char* bad : {"", ".", "ticker", "ticker.", ".BTC-USD", "ticker.BTC-USD.x", "ticker..BTC-USD",
                            "ticker.BTC*", "tick*.BTC-USD", "**.BTC-USD", "ticker.**", "*", "*.", ".*",
                            "Ticker.BTC-USD", "ticker.BTC-USD ", " ticker.BTC-USD",
                            "ticker.BTC-*", "*.*.*"}) {
        EXPECT_EQ(tp::classify_entry(bad), EntryKind::invalid) << '"' << bad << '"';
    }
    EXPECT_EQ(tp::classify_entry(std::string_view("ticker.BTC-USD\0", 15)), EntryKind::invalid);
    // A lower-case symbol is a room's grammar: the gateway refuses it on a channel without rooms.
    EXPECT_EQ(tp::classify_entry("ticker.btc-usd"), EntryKind::room);
}

TEST(Topic, LengthLimit) {
    static_assert(tp::kMaxTopicLength == 27);
    const std::string at_limit = "abcdefghijklm.ABCDEF-GHIJK";  // 26
    ASSERT_EQ(at_limit.size(), 26u);
    EXPECT_EQ(tp::classify_entry(at_limit), EntryKind::topic);
    const std::string exactly = "abcdefghijklmn.ABCDEF-GHIJK";
    ASSERT_EQ(exactly.size(), 27u);
    EXPECT_EQ(tp::classify_entry(exactly), EntryKind::topic);
    const std::string over = "abcdefghijklmno.ABCDEF-GHIJK";
    ASSERT_EQ(over.size(), 28u);
    EXPECT_EQ(tp::classify_entry(over), EntryKind::invalid);
    EXPECT_EQ(tp::classify_entry("*." + std::string(12, 'A') + "-" + std::string(12, 'B')), EntryKind::pattern);
    EXPECT_EQ(tp::classify_entry("*." + std::string(13, 'A') + "-" + std::string(12, 'B')), EntryKind::invalid);
}

TEST(Topic, Matching) {
    EXPECT_TRUE(tp::entry_matches("ticker.BTC-USD", "ticker.BTC-USD"));
    EXPECT_FALSE(tp::entry_matches("ticker.BTC-USD", "ticker.ETH-USD"));
    EXPECT_TRUE(tp::entry_matches("ticker.*", "ticker.BTC-USD"));
    EXPECT_TRUE(tp::entry_matches("ticker.*", "ticker.ETH-USD"));
    EXPECT_FALSE(tp::entry_matches("ticker.*", "trades.BTC-USD"));
    EXPECT_FALSE(tp::entry_matches("tick.*", "ticker.BTC-USD"));
    EXPECT_TRUE(tp::entry_matches("*.BTC-USD", "trades.BTC-USD"));
    EXPECT_FALSE(tp::entry_matches("*.BTC-USD", "trades.BTC-USDT"));
    EXPECT_FALSE(tp::entry_matches("*.BTC-USDT", "trades.BTC-USD"));
    EXPECT_TRUE(tp::entry_matches("*.*", "anything.X-Y"));
    EXPECT_FALSE(tp::entry_matches("*", "ticker.BTC-USD"));
}

TEST(Topic, Channel) {
    EXPECT_EQ(tp::topic_channel("ticker.BTC-USD"), "ticker");
    EXPECT_EQ(tp::topic_channel("a.B-C"), "a");
}

// Issue 18: interval suffixes.
TEST(Topic, ThrottleSuffixSplitsFromBase) {
    const auto t = tp::parse_throttled_entry("ticker.BTC-USD@1000ms");
    EXPECT_EQ(t.base, "ticker.BTC-USD");
    EXPECT_EQ(t.interval_ms, 1000u);
    EXPECT_EQ(t.kind, EntryKind::topic);
    EXPECT_TRUE(t.error.empty());
    for (auto [e, ms] : {std::pair{"ticker.*@250ms", 250u}, {"book.BTC-USD@500ms", 500u}, {"*.*@100ms", 100u},
                         {"*.ETH-USD@5000ms", 5000u}}) {
        const auto p = tp::parse_throttled_entry(e);
        EXPECT_EQ(p.interval_ms, ms) << e;
        EXPECT_NE(p.kind, EntryKind::invalid) << e;
        EXPECT_TRUE(p.error.empty()) << e;
    }
    EXPECT_EQ(tp::parse_throttled_entry("ticker.*@250ms").kind, EntryKind::pattern);
}

TEST(Topic, ThrottleWithoutSuffixIsUnchanged) {
    for (const char* e : {"ticker.BTC-USD", "chat.lobby", "trade.*", "*.*", "Ticker.X", "", "ticker."}) {
        const auto p = tp::parse_throttled_entry(e);
        EXPECT_EQ(p.base, e);
        EXPECT_EQ(p.interval_ms, 0u);
        EXPECT_EQ(p.kind, tp::classify_entry(e)) << e;
        EXPECT_TRUE(p.error.empty()) << e;
    }
}

TEST(Topic, ThrottleTopicLimitCountsBaseOnly) {
    // 27-char base: valid; with the suffix the entry is longer than kMaxTopicLength.
    const std::string base = "ticker.ABCDEFGHIJKL-MNOPQRS";
    ASSERT_EQ(base.size(), tp::kMaxTopicLength);
    EXPECT_EQ(tp::classify_entry(base + "@1000ms"), EntryKind::invalid);
    EXPECT_EQ(tp::parse_throttled_entry(base + "@1000ms").kind, EntryKind::topic);
    EXPECT_EQ(tp::parse_throttled_entry(base + "X@1000ms").kind, EntryKind::invalid);
}

TEST(Topic, ThrottleBadSuffixesAreRefusedWithReason) {
    for (const char* e : {"ticker.BTC-USD@", "ticker.BTC-USD@200ms", "ticker.BTC-USD@1s", "ticker.BTC-USD@1000",
                          "ticker.BTC-USD@1000MS", "ticker.BTC-USD@1000ms@1000ms", "ticker.*@0100ms"}) {
        const auto p = tp::parse_throttled_entry(e);
        EXPECT_EQ(p.kind, EntryKind::invalid) << e;
        EXPECT_NE(p.error.find("@100ms, @250ms, @500ms, @1000ms, @5000ms"), std::string_view::npos) << e;
    }
    for (const char* e : {"trade.BTC-USD@1000ms", "trade.*@250ms"}) {
        const auto p = tp::parse_throttled_entry(e);
        EXPECT_EQ(p.kind, EntryKind::invalid) << e;
        EXPECT_NE(p.error.find("trade is never superseded"), std::string_view::npos) << e;
    }
    const auto room = tp::parse_throttled_entry("chat.lobby@500ms");
    EXPECT_EQ(room.kind, EntryKind::invalid);
    EXPECT_NE(room.error.find("room cannot be throttled"), std::string_view::npos);
    // A bad base keeps its own error (the caller's invalid-topic message); no suffix message.
    const auto bad = tp::parse_throttled_entry("Ticker.X@1000ms");
    EXPECT_EQ(bad.kind, EntryKind::invalid);
    EXPECT_TRUE(bad.error.empty());
}
