#include "gateway/config.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tickgate::gateway {
namespace {

ParseOutcome parse(std::vector<std::string> args) {
    args.insert(args.begin(), "tickgate");
    std::vector<const char*> argv;
    for (auto& a : args) argv.push_back(a.c_str());
    return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

TEST(AuthConfig, OffByDefault) {
    const auto out = parse({});
    ASSERT_FALSE(out.exit_code) << out.text;
    EXPECT_FALSE(out.config.jwt.enabled());
    EXPECT_TRUE(out.config.anonymous_topics.empty());
    EXPECT_EQ(out.config.auth_timeout_ms, 10000u);
    EXPECT_EQ(out.config.max_connections_per_user, 0u);
}

TEST(AuthConfig, KeysAndAnonymousTopics) {
    const auto out = parse({"--jwt-secret-file", "/s", "--jwt-public-key-file", "a=/k1.pem", "--jwt-public-key-file",
                            "/k2.pem", "--jwt-audience", "tg", "--jwt-issuer", "iss", "--anonymous-topics",
                            "ticker.BTC-USD,trades.*", "--max-connections-per-user", "3"});
    ASSERT_FALSE(out.exit_code) << out.text;
    const auto& c = out.config;
    EXPECT_TRUE(c.jwt.enabled());
    EXPECT_EQ(c.jwt.secret_file, "/s");
    EXPECT_EQ(c.jwt.public_key_files, (std::vector<std::string>{"a=/k1.pem", "/k2.pem"}));
    EXPECT_EQ(c.jwt.audience, "tg");
    EXPECT_EQ(c.jwt.issuer, "iss");
    EXPECT_EQ(c.anonymous_topics, (std::vector<std::string>{"ticker.BTC-USD", "trades.*"}));
    EXPECT_EQ(c.max_connections_per_user, 3u);
}

TEST(AuthConfig, AuthFlagsWithoutAKeyAreRefused) {
    // Anonymous topics without keys would look like access control while granting everything.
    for (auto flag : {"--anonymous-topics", "--max-connections-per-user", "--jwt-audience", "--jwt-issuer"}) {
        const auto out = parse({flag, std::string(flag) == "--max-connections-per-user" ? "2" : "ticker.*"});
        ASSERT_EQ(out.exit_code, 2) << flag;
        EXPECT_NE(out.text.find("--jwt-secret-file"), std::string::npos) << out.text;
    }
}

TEST(AuthConfig, BadAnonymousPatternIsRefused) {
    const auto out = parse({"--jwt-secret-file", "/s", "--anonymous-topics", "ticker"});
    ASSERT_EQ(out.exit_code, 2);
    EXPECT_NE(out.text.find("'ticker'"), std::string::npos) << out.text;
}

}  // namespace
}  // namespace tickgate::gateway
