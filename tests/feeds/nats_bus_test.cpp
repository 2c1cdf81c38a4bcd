#include "feeds/nats_bus.hpp"

#include <gtest/gtest.h>

#include "feeds/nats_feed.hpp"

#include <string>
#include <vector>

using tickgate::feeds::parse_nats_servers;
using tickgate::feeds::stream_name_for_prefix;

TEST(NatsBus, ServerListsBecomeNatsUrls) {
    std::vector<std::string> urls;
    std::string error;
    ASSERT_TRUE(parse_nats_servers("127.0.0.1:4222", urls, error)) << error;
    EXPECT_EQ(urls, std::vector<std::string>{"nats://127.0.0.1:4222"});
    ASSERT_TRUE(parse_nats_servers("nats://a:1,b:2,nats://[::1]:4222", urls, error)) << error;
    EXPECT_EQ(urls, (std::vector<std::string>{"nats://a:1", "nats://b:2", "nats://[::1]:4222"}));
}

TEST(NatsBus, MalformedServerListsAreRefusedByEntry) {
    std::vector<std::string> urls;
    for (const char* bad : {"", "nats://", "host", "host:", ":4222", "host:port", "a:1,", "a:1,,b:2", "host:1234567"}) {
        std::string error;
        EXPECT_FALSE(parse_nats_servers(bad, urls, error)) << bad;
        EXPECT_NE(error.find("HOST:PORT"), std::string::npos) << bad << " -> " << error;
    }
}

TEST(NatsBus, StreamNamesAvoidNatsWildcardsAndDots) {
    EXPECT_EQ(stream_name_for_prefix("md"), "TICKGATE_md");
    EXPECT_EQ(stream_name_for_prefix("venue1.md"), "TICKGATE_venue1_md");
}

TEST(NatsBus, TheLiveSubjectSitsBesideThePrefixNotUnderIt) {
    using tickgate::feeds::live_subject_for_prefix;
    EXPECT_EQ(live_subject_for_prefix("md"), "md-live");
    EXPECT_EQ(live_subject_for_prefix("venue1.md"), "venue1.md-live");
}

TEST(NatsBus, AGatewayWatchesTheLiveSubjectOfAWholePrefixOnly) {
    const auto live = [](const char* subjects, const char* flag) {
        return tickgate::feeds::NatsFeed::resolve_live_subject(subjects, flag);
    };
    EXPECT_EQ(live("md.>", "auto"), "md-live");
    EXPECT_EQ(live("venue1.md.>", "auto"), "venue1.md-live");
    // Narrower (or wider) than one prefix: nats-server's filter on the per-topic subjects.
    EXPECT_EQ(live("md.ticker.BTC-USD", "auto"), "");
    EXPECT_EQ(live("md.ticker.*", "auto"), "");
    EXPECT_EQ(live("md.*.>", "auto"), "");
    EXPECT_EQ(live(">", "auto"), "");
    EXPECT_EQ(live(".>", "auto"), "");
    // Named, or off.
    EXPECT_EQ(live("md.ticker.BTC-USD", "md-live"), "md-live");
    EXPECT_EQ(live("md.>", "none"), "");
}
