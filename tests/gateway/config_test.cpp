#include "gateway/config.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
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

std::string write_temp(const std::string& text) {
    char path[] = "/tmp/tickgate-config-XXXXXX";
    const int fd = mkstemp(path);
    EXPECT_GE(fd, 0);
    std::ofstream(path) << text;
    close(fd);
    return path;
}

TEST(Config, DefaultsMatchTheDocumentedContract) {
    auto out = parse({});
    ASSERT_FALSE(out.exit_code) << out.text;
    const Config& c = out.config;
    EXPECT_EQ(c.listen.host, "127.0.0.1");
    EXPECT_EQ(c.listen.port, 8443);
    EXPECT_EQ(c.metrics_listen.port, 9464);
    EXPECT_EQ(c.feeds, std::vector<std::string>{"sim"});
    EXPECT_EQ(c.sim.symbols, 20u);
    EXPECT_EQ(c.sim.rate, 1000);
    EXPECT_EQ(c.sim.book_rate, 0);   // tickers only unless asked (scripts/run.sh asks)
    EXPECT_EQ(c.sim.trade_rate, 0);
    EXPECT_EQ(c.max_connections, 10000u);
    EXPECT_EQ(c.max_connections_per_ip, 1000u);
    EXPECT_EQ(c.max_subscriptions, 256u);
    EXPECT_EQ(c.max_topics, 100000u);
    EXPECT_EQ(c.max_message_bytes, 4096u);
    EXPECT_EQ(c.client_rate, 50u);
    EXPECT_EQ(c.max_queue_bytes, 1u << 20);
    EXPECT_EQ(c.slow_timeout_ms, 5000u);
    EXPECT_EQ(c.behind_skip_ms, 250u);
    EXPECT_EQ(c.heartbeat_ms, 20000u);
    EXPECT_EQ(c.handshake_timeout_ms, 5000u);
    EXPECT_EQ(c.stale_ms, 5000u);
    EXPECT_TRUE(c.allowed_origins.empty());
    EXPECT_FALSE(c.no_tls);
    EXPECT_FALSE(c.state_dir.empty());
}

TEST(Config, FlagsAreParsed) {
    auto out = parse({"--listen", "[::1]:0", "--feed", "sim", "--feed", "replay:x.jsonl,speed=2", "--rate", "250.5",
                      "--allowed-origins", "https://a.example,https://b.example", "--no-tls"});
    ASSERT_FALSE(out.exit_code) << out.text;
    EXPECT_EQ(out.config.listen.host, "::1");
    EXPECT_EQ(out.config.listen.port, 0);
    EXPECT_EQ(out.config.feeds, (std::vector<std::string>{"sim", "replay:x.jsonl,speed=2"}));
    EXPECT_DOUBLE_EQ(out.config.sim.rate, 250.5);
    EXPECT_EQ(out.config.allowed_origins, (std::vector<std::string>{"https://a.example", "https://b.example"}));
    EXPECT_TRUE(out.config.no_tls);
}

TEST(Config, ConfigFileIsReadAndFlagsOverrideIt) {
    const auto path = write_temp("symbols = 7\nrate = 10\nfeed = sim\nfeed = replay:a.jsonl\nclient-rate = 9\n");
    auto out = parse({"--config", path, "--rate", "20"});
    std::remove(path.c_str());
    ASSERT_FALSE(out.exit_code) << out.text;
    EXPECT_EQ(out.config.sim.symbols, 7u);
    EXPECT_EQ(out.config.sim.rate, 20);  // the flag wins
    EXPECT_EQ(out.config.client_rate, 9u);
    EXPECT_EQ(out.config.feeds, (std::vector<std::string>{"sim", "replay:a.jsonl"}));
}

TEST(Config, BookAndTradeRatesComeFromFlagsOrTheConfigFile) {
    const auto path = write_temp("book-rate = 1000\ntrade-rate = 200\n");
    auto out = parse({"--config", path, "--trade-rate", "50"});
    std::remove(path.c_str());
    ASSERT_FALSE(out.exit_code) << out.text;
    EXPECT_EQ(out.config.sim.book_rate, 1000);
    EXPECT_EQ(out.config.sim.trade_rate, 50);  // the flag wins
    auto bad = parse({"--book-rate", "-1"});
    ASSERT_TRUE(bad.exit_code);
    EXPECT_EQ(*bad.exit_code, 2);
    EXPECT_EQ(bad.text, "tickgate: --book-rate must be between 0 and 10000000");
}

TEST(Config, HelpAndVersionExitZero) {
    auto help = parse({"--help"});
    ASSERT_TRUE(help.exit_code);
    EXPECT_EQ(*help.exit_code, 0);
    for (const char* option : {"--listen", "--max-queue-bytes", "--allowed-origins", "--config", "--feed"})
        EXPECT_NE(help.text.find(option), std::string::npos) << option;
    EXPECT_NE(help.text.find("10000"), std::string::npos);
    auto version = parse({"--version"});
    ASSERT_TRUE(version.exit_code);
    EXPECT_EQ(*version.exit_code, 0);
    EXPECT_NE(version.text.find(TICKGATE_VERSION), std::string::npos);
}

TEST(Config, BadInputExitsTwoWithAOneLineError) {
    const std::vector<std::vector<std::string>> cases = {
        {"--nope"},
        {"--threads", "abc"},
        {"--listen", "127.0.0.1"},
        {"--listen", "127.0.0.1:99999"},
        {"--metrics-listen", ":80"},
        {"--cert", "only.pem"},
        {"--rate", "0"},
        {"--max-message-bytes", "10"},
        {"--log-level", "loud"},
        {"--config", "/nonexistent/tickgate.conf"},
    };
    for (const auto& args : cases) {
        auto out = parse(args);
        ASSERT_TRUE(out.exit_code) << args[0];
        EXPECT_EQ(*out.exit_code, 2) << args[0];
        EXPECT_EQ(out.text.find('\n'), std::string::npos) << out.text;
        EXPECT_EQ(out.text.rfind("tickgate: ", 0), 0u) << out.text;
    }
}

TEST(Config, UnknownKeyInConfigFileIsAnError) {
    const auto path = write_temp("symbolz = 7\n");
    auto out = parse({"--config", path});
    std::remove(path.c_str());
    ASSERT_TRUE(out.exit_code);
    EXPECT_EQ(*out.exit_code, 2);
}

TEST(Config, EndpointParsing) {
    EXPECT_EQ(parse_endpoint("0.0.0.0:1")->port, 1);
    EXPECT_EQ(parse_endpoint("localhost:8443")->host, "localhost");
    EXPECT_FALSE(parse_endpoint("nohost"));
    EXPECT_FALSE(parse_endpoint("[::1]8443"));
    EXPECT_FALSE(parse_endpoint("h:12a"));
}

// Access control's flags (issue 15).
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

// Client publishing's flags (issue 16).
TEST(PublishConfig, OffByDefault) {
    const auto out = parse({});
    ASSERT_FALSE(out.exit_code) << out.text;
    EXPECT_TRUE(out.config.publish_channels.empty());
    EXPECT_FALSE(out.config.publishable("chat"));
    EXPECT_EQ(out.config.max_publish_topics, 1000u);
    EXPECT_EQ(out.config.publish_rate, 100u);
}

TEST(PublishConfig, ChannelsAndLimitsFromFlagsAndTheConfigFile) {
    auto out = parse({"--publish-channels", "chat,news", "--publish-channels", "ops_2", "--max-publish-topics", "5",
                      "--publish-rate", "7"});
    ASSERT_FALSE(out.exit_code) << out.text;
    EXPECT_EQ(out.config.publish_channels, (std::vector<std::string>{"chat", "news", "ops_2"}));
    EXPECT_TRUE(out.config.publishable("news"));
    EXPECT_FALSE(out.config.publishable("ticker"));
    EXPECT_EQ(out.config.max_publish_topics, 5u);
    EXPECT_EQ(out.config.publish_rate, 7u);

    const auto path = write_temp("publish-channels = chat\nmax-publish-topics = 9\npublish-rate = 3\n");
    out = parse({"--config", path});
    std::remove(path.c_str());
    ASSERT_FALSE(out.exit_code) << out.text;
    EXPECT_EQ(out.config.publish_channels, std::vector<std::string>{"chat"});
    EXPECT_EQ(out.config.max_publish_topics, 9u);
    EXPECT_EQ(out.config.publish_rate, 3u);
}

TEST(PublishConfig, MarketReservedAndMalformedChannelsAreRefusedWithExit2) {
    struct Case {
        const char* channel;
        const char* says;
    };
    for (const Case& c : {Case{"ticker", "market-data channel"}, Case{"book", "market-data channel"},
                          Case{"book50", "market-data channel"}, Case{"trade", "market-data channel"},
                          Case{"status", "reserved name"}, Case{"published", "reserved name"},
                          Case{"publish", "reserved name"}, Case{"broadcast", "reserved name"},
                          Case{"Chat", "not a channel name"}, Case{"chat.lobby", "not a channel name"},
                          Case{"abcdefghijklmnopqrstuvwxyz", "too long"}}) {
        const auto out = parse({"--publish-channels", std::string("chat,") + c.channel});
        ASSERT_EQ(out.exit_code, 2) << c.channel;
        EXPECT_NE(out.text.find(std::string("--publish-channels: '") + c.channel + "'"), std::string::npos) << out.text;
        EXPECT_NE(out.text.find(c.says), std::string::npos) << out.text;
        EXPECT_EQ(out.text.find('\n'), std::string::npos) << "one line: " << out.text;
    }
    for (auto flag : {"--max-publish-topics", "--publish-rate"}) {
        const auto out = parse({flag, "0"});
        ASSERT_EQ(out.exit_code, 2) << flag;
        EXPECT_NE(out.text.find(flag), std::string::npos) << out.text;
    }
}

TEST(PublishConfig, HelpNamesTheFlags) {
    const auto out = parse({"--help"});
    ASSERT_EQ(out.exit_code, 0);
    for (auto flag : {"--publish-channels", "--max-publish-topics", "--publish-rate"})
        EXPECT_NE(out.text.find(flag), std::string::npos) << flag;
}

// The operator API's flags (issue 16).
TEST(AdminConfig, OffByDefault) {
    const auto out = parse({});
    ASSERT_FALSE(out.exit_code) << out.text;
    EXPECT_FALSE(out.config.admin_listen);
    EXPECT_TRUE(out.config.admin_key_file.empty());
    EXPECT_EQ(out.config.admin_tls, Config::AdminTls::auto_);
}

TEST(AdminConfig, FlagsAndConfigFileKeys) {
    auto out = parse({"--admin-listen", "127.0.0.2:0", "--admin-key-file", "/etc/tickgate/admin.key", "--admin-tls", "on"});
    ASSERT_FALSE(out.exit_code) << out.text;
    ASSERT_TRUE(out.config.admin_listen);
    EXPECT_EQ(out.config.admin_listen->host, "127.0.0.2");
    EXPECT_EQ(out.config.admin_listen->port, 0);
    EXPECT_EQ(out.config.admin_key_file, "/etc/tickgate/admin.key");
    EXPECT_EQ(out.config.admin_tls, Config::AdminTls::on);

    const auto path = write_temp("admin-listen = [::1]:9400\nadmin-key-file = k\nadmin-tls = off\n");
    out = parse({"--config", path});
    std::remove(path.c_str());
    ASSERT_FALSE(out.exit_code) << out.text;
    EXPECT_EQ(out.config.admin_listen->host, "::1");
    EXPECT_EQ(out.config.admin_listen->port, 9400);
    EXPECT_EQ(out.config.admin_tls, Config::AdminTls::off);
}

TEST(AdminConfig, TheApiNeedsAKeyAndItsFlagsNeedTheApi) {
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"--admin-listen", "127.0.0.1:0"}, "tickgate: --admin-listen needs --admin-key-file (the operator API's bearer key)"},
        {{"--admin-key-file", "k"}, "tickgate: --admin-key-file and --admin-tls need --admin-listen"},
        {{"--admin-tls", "off"}, "tickgate: --admin-key-file and --admin-tls need --admin-listen"},
        {{"--admin-listen", "127.0.0.1", "--admin-key-file", "k"}, "tickgate: --admin-listen must be HOST:PORT, got '127.0.0.1'"},
        {{"--admin-listen", "127.0.0.1:0", "--admin-key-file", "k", "--admin-tls", "yes"},
         "tickgate: --admin-tls must be auto, on or off, got 'yes'"},
        {{"--admin-listen", "127.0.0.1:0", "--admin-key-file", "k", "--admin-tls", "on", "--no-tls"},
         "tickgate: --admin-tls on serves the gateway's certificate, and --no-tls loads none"},
    };
    for (const auto& [args, text] : cases) {
        const auto out = parse(args);
        ASSERT_EQ(out.exit_code, 2) << args[0];
        EXPECT_EQ(out.text, text);
    }
}

TEST(AdminConfig, HelpListsTheFlags) {
    const auto help = parse({"--help"});
    for (const auto* flag : {"--admin-listen", "--admin-key-file", "--admin-tls"})
        EXPECT_NE(help.text.find(flag), std::string::npos) << flag;
}

}  // namespace
}  // namespace tickgate::gateway
