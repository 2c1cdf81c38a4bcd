// The command-line contract of the tickgate binary: --help, --version, bad flags (exit 2 with one
// line on stderr), --config files, and start-up failures (exit 1 with one line on stderr).
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "support/client.hpp"
#include "support/gateway_process.hpp"
#include "support/json.hpp"
#include "support/session_helpers.hpp"

namespace e2e {
namespace {

/// The lines of stderr that are not timestamped log lines ("2026-...Z info  ...").
std::vector<std::string> error_lines(const std::string& err) {
    std::vector<std::string> out;
    std::istringstream in(err);
    std::string line;
    while (std::getline(in, line)) {
        const bool log_line = line.size() > 24 && line[4] == '-' && line[10] == 'T' && line.find("Z ") == 23;
        if (!line.empty() && !log_line) out.push_back(line);
    }
    return out;
}

/// Arguments that keep a run that wrongly starts from touching anything shared.
std::vector<std::string> isolated(const TempDir& dir, std::vector<std::string> args) {
    std::vector<std::string> base{"--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--state-dir",
                                  dir.file("state")};
    base.insert(base.end(), args.begin(), args.end());
    return base;
}

TEST(Cli, HelpListsEveryOptionWithItsDefaultAndExitsZero) {
    const auto r = run_tickgate({"--help"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(r.err.empty()) << r.err;
    for (const char* option :
         {"--help", "--version", "--config", "--listen", "--metrics-listen", "--threads", "--cert", "--key",
          "--state-dir", "--no-tls", "--feed", "--symbols", "--rate", "--seed", "--book-rate", "--trade-rate",
          "--max-connections",
          "--max-connections-per-ip", "--max-subscriptions", "--max-topics", "--max-message-bytes", "--client-rate",
          "--max-queue-bytes", "--slow-timeout-ms", "--behind-skip-ms", "--heartbeat-ms", "--handshake-timeout-ms",
          "--stale-ms",
          "--allowed-origins", "--log-level", "--nats-subjects", "--nats-live-subject", "--nats-reader",
          "--nats-read-coalesce-us"})
        EXPECT_NE(r.out.find(std::string(option) + " "), std::string::npos) << option << " missing from --help:\n" << r.out;
    const auto line_of = [&](const std::string& option) {
        const auto lines = lines_with(r.out, option + " ");
        return lines.empty() ? std::string() : lines.front();
    };
    EXPECT_NE(line_of("--max-connections").find("10000"), std::string::npos) << r.out;
    EXPECT_NE(line_of("--listen").find("127.0.0.1:8443"), std::string::npos) << r.out;
    EXPECT_NE(line_of("--max-message-bytes").find("4096"), std::string::npos) << r.out;
    EXPECT_NE(line_of("--heartbeat-ms").find("20000"), std::string::npos) << r.out;
    EXPECT_NE(line_of("--stale-ms").find("5000"), std::string::npos) << r.out;
    EXPECT_NE(line_of("--feed").find("sim"), std::string::npos) << r.out;
}

TEST(Cli, VersionPrintsTheVersionAndExitsZero) {
    const auto r = run_tickgate({"--version"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, std::string("tickgate ") + TICKGATE_VERSION + "\n");
    EXPECT_TRUE(r.err.empty()) << r.err;
}

struct BadFlag {
    const char* name;
    std::vector<std::string> args;
    const char* mentions;  // the error line names the problem
};

class CliBadFlag : public ::testing::TestWithParam<BadFlag> {};

TEST_P(CliBadFlag, ExitsTwoWithOneLineOnStderr) {
    TempDir dir;
    const auto r = run_tickgate(isolated(dir, GetParam().args), 5s);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    const auto errors = error_lines(r.err);
    ASSERT_EQ(errors.size(), 1u) << "stderr:\n" << r.err;
    EXPECT_EQ(errors[0].rfind("tickgate: ", 0), 0u) << errors[0];
    EXPECT_NE(errors[0].find(GetParam().mentions), std::string::npos) << errors[0];
    EXPECT_EQ(r.err.find("listening on"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
}

INSTANTIATE_TEST_SUITE_P(
    Flags, CliBadFlag,
    ::testing::Values(BadFlag{"UnknownFlag", {"--bogus-flag"}, "bogus-flag"},
                      BadFlag{"ThreadsNotANumber", {"--threads", "abc"}, "threads"},
                      BadFlag{"ListenWithoutPort", {"--listen", "127.0.0.1"}, "--listen"},
                      BadFlag{"ListenPortTooBig", {"--listen", "127.0.0.1:70000"}, "--listen"},
                      BadFlag{"CertWithoutKey", {"--cert", "/tmp/does-not-matter.pem"}, "--key"},
                      BadFlag{"ZeroMaxConnections", {"--max-connections", "0"}, "--max-connections"},
                      BadFlag{"BadLogLevel", {"--log-level", "loud"}, "--log-level"},
                      BadFlag{"MissingConfigFile", {"--config", "/nonexistent/tickgate-e2e.conf"},
                              "/nonexistent/tickgate-e2e.conf"},
                      BadFlag{"UnknownFeedKind", {"--feed", "kafka://x"}, "kafka://x"},
                      BadFlag{"ReplayWithoutFile", {"--feed", "replay:"}, "replay"},
                      BadFlag{"ReplayBadSpeed", {"--feed", "replay:/tmp/x.jsonl,speed=fast"}, "speed"},
                      BadFlag{"NatsLiveSubjectPattern", {"--nats-live-subject", "md-live.>"}, "--nats-live-subject"},
                      BadFlag{"NatsReader", {"--nats-reader", "fiber"}, "--nats-reader must be thread or worker"},
                      BadFlag{"NatsReadCoalesce", {"--nats-read-coalesce-us", "100001"}, "--nats-read-coalesce-us must be at most 100000"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Cli, ConfigFileIsHonouredAndFlagsOverrideIt) {
    TempDir dir;
    write_file(dir.file("tickgate.conf"), "# a comment\nsymbols = 3\nrate = 600\n");
    {
        GatewayProcess gw;
        ASSERT_TRUE(gw.start({"--config", dir.file("tickgate.conf")})) << gw.stderr_text();
        const auto topics = topics_of(gw.ws_port(), 3);
        ASSERT_TRUE(topics) << gw.stderr_text();
        std::this_thread::sleep_for(200ms);
        const auto again = topics_of(gw.ws_port(), 3);
        ASSERT_TRUE(again);
        EXPECT_EQ(again->size(), 3u) << "symbols = 3 in the config file";
    }
    {
        GatewayProcess gw;
        ASSERT_TRUE(gw.start({"--config", dir.file("tickgate.conf"), "--symbols", "5"})) << gw.stderr_text();
        const auto topics = topics_of(gw.ws_port(), 5);
        ASSERT_TRUE(topics) << gw.stderr_text();
        EXPECT_EQ(topics->size(), 5u) << "--symbols 5 overrides symbols = 3 of the file";
    }
}

TEST(Cli, ConfigFileRepeatsAKeyForARepeatableOptionAndTheFlagReplacesThem) {
    TempDir dir;
    write_file(dir.file("one.jsonl"),
               R"({"topic":"ticker.XRP-USD","ts":1764090000000000000,"bid":"1.50","bid_size":"1","ask":"1.60",)"
               R"("ask_size":"1","last":"1.55","last_size":"1","open_24h":"1","high_24h":"2","low_24h":"1",)"
               R"("volume_24h":"10"})"
               "\n");
    write_file(dir.file("feeds.conf"), "feed = sim\nfeed = replay:" + dir.file("one.jsonl") + "\nsymbols = 2\n");
    {
        GatewayProcess gw;
        ASSERT_TRUE(gw.start({"--config", dir.file("feeds.conf")})) << gw.stderr_text();
        const auto health = http_get(gw.ws_port(), "/healthz");
        const auto doc = parse_json(health.body);
        ASSERT_TRUE(doc.IsObject() && doc.HasMember("feeds") && doc["feeds"].IsArray()) << health.body;
        EXPECT_EQ(doc["feeds"].Size(), 2u) << "both feed keys of the file are used: " << health.body;
    }
    {
        GatewayProcess gw;
        ASSERT_TRUE(gw.start({"--config", dir.file("feeds.conf"), "--feed", "sim"})) << gw.stderr_text();
        const auto health = http_get(gw.ws_port(), "/healthz");
        const auto doc = parse_json(health.body);
        ASSERT_TRUE(doc.IsObject() && doc.HasMember("feeds") && doc["feeds"].IsArray()) << health.body;
        EXPECT_EQ(doc["feeds"].Size(), 1u) << "--feed on the command line replaces the file's feeds: " << health.body;
    }
}

TEST(Cli, AllowedOriginsFlagOverridesTheConfigFile) {
    // README: "Flags override the file." An operator narrowing the allowed Origins with the flag must
    // not keep allowing the file's.
    TempDir dir;
    write_file(dir.file("origins.conf"), "allowed-origins = https://b.example\n");
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({"--config", dir.file("origins.conf"), "--allowed-origins", "https://a.example",
                          "--symbols", "2"}))
        << gw.stderr_text();
    auto origin = [](const std::string& o) {
        ConnectOptions options;
        options.headers.emplace_back("Origin", o);
        return options;
    };
    WssClient a;
    EXPECT_TRUE(a.connect(gw.ws_port(), origin("https://a.example"))) << a.http_status() << " " << a.error();
    WssClient b;
    EXPECT_FALSE(b.connect(gw.ws_port(), origin("https://b.example")))
        << "https://b.example (config file only) was admitted although --allowed-origins overrides the file";
    EXPECT_EQ(b.http_status(), 403);
}

TEST(Cli, ConfigFileWithUnknownKeyExitsTwo) {
    TempDir dir;
    write_file(dir.file("bad.conf"), "symbols = 3\nno-such-option = 1\n");
    const auto r = run_tickgate(isolated(dir, {"--config", dir.file("bad.conf")}), 5s);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    const auto errors = error_lines(r.err);
    ASSERT_EQ(errors.size(), 1u) << r.err;
    EXPECT_NE(errors[0].find("no-such-option"), std::string::npos) << errors[0];
}

TEST(Cli, ConfigFileWithBadValueExitsTwo) {
    TempDir dir;
    write_file(dir.file("bad.conf"), "threads = many\n");
    const auto r = run_tickgate(isolated(dir, {"--config", dir.file("bad.conf")}), 5s);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(error_lines(r.err).size(), 1u) << r.err;
}

TEST(Cli, AddressAlreadyInUseExitsOneWithOneLine) {
    PortBlocker taken;
    TempDir dir;
    const auto port = std::to_string(taken.port());
    const auto r = run_tickgate({"--listen", "127.0.0.1:" + port, "--metrics-listen", "127.0.0.1:0", "--state-dir",
                                 dir.file("state")},
                                5s);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    const auto errors = error_lines(r.err);
    ASSERT_EQ(errors.size(), 1u) << r.err;
    EXPECT_EQ(errors[0].rfind("tickgate: ", 0), 0u) << errors[0];
    EXPECT_NE(errors[0].find(port), std::string::npos) << "names the address: " << errors[0];
    EXPECT_EQ(r.err.find("listening on"), std::string::npos) << r.err;
}

TEST(Cli, MetricsAddressAlreadyInUseExitsOne) {
    PortBlocker taken;
    TempDir dir;
    const auto r = run_tickgate({"--listen", "127.0.0.1:0", "--metrics-listen",
                                 "127.0.0.1:" + std::to_string(taken.port()), "--state-dir", dir.file("state")},
                                5s);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    const auto errors = error_lines(r.err);
    ASSERT_EQ(errors.size(), 1u) << r.err;
    EXPECT_NE(errors[0].find(std::to_string(taken.port())), std::string::npos) << errors[0];
}

TEST(Cli, UnreadableCertificateExitsOne) {
    TempDir dir;
    const auto r = run_tickgate(
        isolated(dir, {"--cert", dir.file("missing-cert.pem"), "--key", dir.file("missing-key.pem")}), 5s);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    const auto errors = error_lines(r.err);
    ASSERT_EQ(errors.size(), 1u) << r.err;
    EXPECT_NE(errors[0].find("missing-cert.pem"), std::string::npos) << errors[0];
}

TEST(Cli, GarbageCertificateFileExitsOne) {
    TempDir dir;
    write_file(dir.file("cert.pem"), "not a certificate\n");
    write_file(dir.file("key.pem"), "not a key\n");
    const auto r = run_tickgate(isolated(dir, {"--cert", dir.file("cert.pem"), "--key", dir.file("key.pem")}), 5s);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(error_lines(r.err).size(), 1u) << r.err;
}

TEST(Cli, MissingReplayFileExitsOne) {
    TempDir dir;
    const auto r = run_tickgate(isolated(dir, {"--feed", "replay:" + dir.file("nope.jsonl")}), 5s);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    const auto errors = error_lines(r.err);
    ASSERT_EQ(errors.size(), 1u) << r.err;
    EXPECT_NE(errors[0].find("nope.jsonl"), std::string::npos) << errors[0];
}

}  // namespace
}  // namespace e2e
