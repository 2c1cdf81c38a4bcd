// TLS: the generated self-signed certificate (ECDSA P-256, SAN, ~1 year, 0600 key, reused,
// regenerated when expired), protocol versions, SIGHUP reload without dropping connections, --no-tls.
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <ios>

#include "support/certs.hpp"
#include "support/client.hpp"
#include "support/gateway_process.hpp"
#include "support/json.hpp"
#include "support/session_helpers.hpp"

namespace e2e {
namespace {

constexpr long kDay = 24 * 3600;

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

GatewayProcess::Options with_state_dir() {
    GatewayProcess::Options o;
    o.own_state_dir = false;
    return o;
}

/// The fingerprint of the certificate a new TLS connection is served.
std::string presented_fingerprint(int port) {
    const auto probe = tls_probe(port, 0, 0);
    return probe.ok ? probe.peer_sha256 : "handshake failed: " + probe.error;
}

void stop(GatewayProcess& gw) {
    gw.signal(SIGTERM);
    ASSERT_EQ(gw.wait_exit(3s), 0) << gw.stderr_text();
}

TEST(Tls, GeneratesAnEcdsaP256CertificateForLocalhostIntoTheStateDir) {
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({})) << gw.stderr_text();
    const std::string cert = gw.state_dir() + "/cert.pem", key = gw.state_dir() + "/key.pem";
    ASSERT_TRUE(std::filesystem::exists(cert)) << gw.stderr_text();
    ASSERT_TRUE(std::filesystem::exists(key));

    struct stat st {};
    ASSERT_EQ(::stat(key.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << "the private key must be owner-only";

    const auto info = read_certificate(cert);
    ASSERT_TRUE(info) << "cert.pem does not parse";
    EXPECT_EQ(info->key_type, "EC");
    EXPECT_EQ(info->curve, "prime256v1");
    EXPECT_TRUE(contains(info->ip_addresses, "127.0.0.1")) << "SAN IPs: " << info->ip_addresses.size();
    EXPECT_TRUE(contains(info->dns_names, "localhost"));
    const std::time_t now = std::time(nullptr);
    EXPECT_LE(info->not_before, now);
    EXPECT_GT(info->not_after, now + 360 * kDay) << "valid about a year";
    EXPECT_LT(info->not_after, now + 370 * kDay) << "valid about a year";
    EXPECT_TRUE(key_matches_certificate(key, cert));

    EXPECT_EQ(presented_fingerprint(gw.ws_port()), info->sha256) << "the server presents the generated certificate";
    EXPECT_FALSE(lines_with(gw.stderr_text(), cert).empty()) << "the certificate path is logged:\n" << gw.stderr_text();
}

TEST(Tls, DefaultStateDirIsUnderXdgStateHome) {
    TempDir xdg;
    GatewayProcess gw;
    GatewayProcess::Options options;
    options.own_state_dir = false;
    options.env = {"XDG_STATE_HOME=" + xdg.path()};
    ASSERT_TRUE(gw.start({"--symbols", "2"}, options)) << gw.stderr_text();
    const auto info = read_certificate(xdg.path() + "/tickgate/cert.pem");
    ASSERT_TRUE(info) << "no certificate in $XDG_STATE_HOME/tickgate:\n" << gw.stderr_text();
    EXPECT_EQ(presented_fingerprint(gw.ws_port()), info->sha256);
}

TEST(Tls, SecondStartReusesTheGeneratedCertificate) {
    TempDir state;
    std::string first;
    {
        GatewayProcess gw;
        ASSERT_TRUE(gw.start({"--state-dir", state.path()}, with_state_dir())) << gw.stderr_text();
        first = presented_fingerprint(gw.ws_port());
        stop(gw);
    }
    const auto on_disk = read_certificate(state.file("cert.pem"));
    ASSERT_TRUE(on_disk);
    EXPECT_EQ(on_disk->sha256, first);
    {
        GatewayProcess gw;
        ASSERT_TRUE(gw.start({"--state-dir", state.path()}, with_state_dir())) << gw.stderr_text();
        EXPECT_EQ(presented_fingerprint(gw.ws_port()), first) << "a valid certificate is reused, not regenerated";
        const auto again = read_certificate(state.file("cert.pem"));
        ASSERT_TRUE(again);
        EXPECT_EQ(again->sha256, first);
    }
}

TEST(Tls, ExpiredGeneratedCertificateIsRegenerated) {
    TempDir state;
    const auto expired = write_self_signed(state.file("cert.pem"), state.file("key.pem"), -30 * kDay, -kDay);
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({"--state-dir", state.path()}, with_state_dir())) << gw.stderr_text();
    const auto info = read_certificate(state.file("cert.pem"));
    ASSERT_TRUE(info);
    EXPECT_NE(info->sha256, expired) << "an expired certificate must be replaced";
    EXPECT_GT(info->not_after, std::time(nullptr) + 360 * kDay);
    EXPECT_TRUE(key_matches_certificate(state.file("key.pem"), state.file("cert.pem")));
    EXPECT_EQ(presented_fingerprint(gw.ws_port()), info->sha256);
}

TEST(Tls, RegeneratedKeyIsOwnerOnlyEvenWhenTheFileItReplacesWasNot) {
    // A state dir restored or copied with a umask-default (0644) key.pem: the regenerated private
    // key must not end up world-readable.
    TempDir state;
    write_self_signed(state.file("cert.pem"), state.file("key.pem"), -30 * kDay, -kDay);
    ::chmod(state.file("key.pem").c_str(), 0644);
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({"--state-dir", state.path()}, with_state_dir())) << gw.stderr_text();
    struct stat st {};
    ASSERT_EQ(::stat(state.file("key.pem").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << "regenerated key.pem has mode " << std::oct << (st.st_mode & 0777);
}

TEST(Tls, SighupRegeneratesAGeneratedCertificateThatHasExpired) {
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({})) << gw.stderr_text();
    const auto original = read_certificate(gw.state_dir() + "/cert.pem");
    ASSERT_TRUE(original);
    // The certificate on disk expires while the gateway runs (here: replaced by an expired one).
    const auto expired =
        write_self_signed(gw.state_dir() + "/cert.pem", gw.state_dir() + "/key.pem", -30 * kDay, -kDay);
    ::chmod((gw.state_dir() + "/key.pem").c_str(), 0600);
    const auto mark = gw.stderr_size();
    gw.signal(SIGHUP);
    ASSERT_TRUE(gw.wait_for_stderr("SIGHUP", 3s, mark)) << gw.stderr_text();
    const auto now_on_disk = read_certificate(gw.state_dir() + "/cert.pem");
    ASSERT_TRUE(now_on_disk);
    EXPECT_NE(now_on_disk->sha256, expired) << "SIGHUP regenerates an expired generated certificate";
    EXPECT_GT(now_on_disk->not_after, std::time(nullptr) + 360 * kDay);
    const auto presented = presented_fingerprint(gw.ws_port());
    EXPECT_NE(presented, expired) << "never serve an expired certificate";
    EXPECT_EQ(presented, now_on_disk->sha256);
}

TEST(Tls, UnusableStateDirExitsOne) {
    TempDir dir;
    write_file(dir.file("a-file"), "x");
    const auto r = run_tickgate({"--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--state-dir",
                                 dir.file("a-file") + "/state"},
                                5s);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    const auto errors = lines_with(r.err, "tickgate: ");
    ASSERT_EQ(errors.size(), 1u) << r.err;
    EXPECT_NE(errors[0].find("a-file"), std::string::npos) << errors[0];
}

TEST(Tls, Tls12AndTls13HandshakesSucceedOlderVersionsAreRefused) {
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({})) << gw.stderr_text();

    const auto v12 = tls_probe(gw.ws_port(), TLS1_2_VERSION, TLS1_2_VERSION);
    EXPECT_TRUE(v12.ok) << v12.error;
    EXPECT_EQ(v12.version, "TLSv1.2");
    const auto v13 = tls_probe(gw.ws_port(), TLS1_3_VERSION, TLS1_3_VERSION);
    EXPECT_TRUE(v13.ok) << v13.error;
    EXPECT_EQ(v13.version, "TLSv1.3");

    // The client offers TLS 1.1 (security level 0); the refusal must be the server's protocol_version alert.
    const auto v11 = tls_probe(gw.ws_port(), TLS1_1_VERSION, TLS1_1_VERSION);
    EXPECT_FALSE(v11.ok) << "TLS 1.1 was negotiated: " << v11.version;
    EXPECT_NE(v11.error.find("alert protocol version"), std::string::npos) << v11.error;
    const auto v10 = tls_probe(gw.ws_port(), TLS1_VERSION, TLS1_VERSION);
    EXPECT_FALSE(v10.ok) << "TLS 1.0 was negotiated: " << v10.version;

    // Refused handshakes do not disturb the server.
    const auto health = http_get(gw.ws_port(), "/healthz");
    EXPECT_EQ(health.status, 200) << health.error;
}

TEST(Tls, SighupLoadsReplacedCertificateForNewConnectionsWhileOpenOnesContinue) {
    TempDir dir;
    const std::string cert = dir.file("cert.pem"), key = dir.file("key.pem");
    const auto first = write_self_signed(cert, key, -3600, 30 * kDay, "first");
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({"--cert", cert, "--key", key, "--symbols", "3", "--rate", "600"})) << gw.stderr_text();
    ASSERT_TRUE(topics_of(gw.ws_port(), 3));

    WssClient open_client;
    ConnectOptions options;
    options.target = "/ws?subscribe=ticker.BTC-USD";
    ASSERT_TRUE(open_client.connect(gw.ws_port(), options)) << open_client.error();
    EXPECT_EQ(open_client.peer_certificate_sha256(), first);
    ASSERT_TRUE(read_until_type(open_client, "ticker", 3s)) << open_client.error();

    // Replace both files (write aside, then rename over), then SIGHUP.
    const auto second = write_self_signed(dir.file("cert.new"), dir.file("key.new"), -3600, 30 * kDay, "second");
    std::filesystem::rename(dir.file("key.new"), key);
    std::filesystem::rename(dir.file("cert.new"), cert);
    ASSERT_NE(first, second);
    const auto mark = gw.stderr_size();
    gw.signal(SIGHUP);
    ASSERT_TRUE(gw.wait_for_stderr("reloaded", 3s, mark)) << gw.stderr_text();

    EXPECT_EQ(presented_fingerprint(gw.ws_port()), second) << "a new connection presents the new certificate";
    WssClient new_client;
    ASSERT_TRUE(new_client.connect(gw.ws_port())) << new_client.error();
    EXPECT_EQ(new_client.peer_certificate_sha256(), second);

    // The connection opened before the reload keeps its session and its updates.
    long long last_seq = -1;
    int updates = 0;
    for (int i = 0; i < 40 && updates < 15; ++i) {
        const auto text = open_client.read_text(2s);
        ASSERT_TRUE(text) << "the open connection was dropped by SIGHUP: " << open_client.error() << " close code "
                          << open_client.close_code().value_or(0);
        const auto doc = parse_json(*text);
        if (json_string(doc, "type") != "ticker") continue;
        const auto seq = json_int(doc, "seq").value_or(-1);
        if (last_seq >= 0) {
            EXPECT_EQ(seq, last_seq + 1) << *text;
        }
        last_seq = seq;
        ++updates;
    }
    EXPECT_GE(updates, 15);
    EXPECT_FALSE(open_client.closed());
    EXPECT_TRUE(gw.running());
}

TEST(Tls, SighupWithBrokenFilesKeepsTheCurrentCertificate) {
    TempDir dir;
    const std::string cert = dir.file("cert.pem"), key = dir.file("key.pem");
    const auto first = write_self_signed(cert, key, -3600, 30 * kDay);
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({"--cert", cert, "--key", key})) << gw.stderr_text();
    write_file(cert, "-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n");
    const auto mark = gw.stderr_size();
    gw.signal(SIGHUP);
    ASSERT_TRUE(gw.wait_for_stderr("SIGHUP", 3s, mark)) << gw.stderr_text();
    EXPECT_TRUE(gw.running());
    EXPECT_EQ(presented_fingerprint(gw.ws_port()), first) << "a failed reload keeps serving the old certificate";
}

TEST(Tls, MismatchedCertificateAndKeyExitOne) {
    TempDir dir;
    write_self_signed(dir.file("a.pem"), dir.file("a.key"), -3600, 30 * kDay);
    write_self_signed(dir.file("b.pem"), dir.file("b.key"), -3600, 30 * kDay);
    const auto r = run_tickgate({"--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--cert",
                                 dir.file("a.pem"), "--key", dir.file("b.key"), "--state-dir", dir.file("state")},
                                5s);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(lines_with(r.err, "tickgate: ").size(), 1u) << r.err;
}

TEST(Tls, NoTlsServesPlainWebSocket) {
    GatewayProcess gw;
    ASSERT_TRUE(gw.start({"--no-tls", "--symbols", "3"})) << gw.stderr_text();
    // ?subscribe= of a topic the simulator has not published yet is refused as unknown.
    ASSERT_TRUE(topics_of(gw.ws_port(), 3, /*tls=*/false));
    EXPECT_EQ(gw.ws_url().rfind("ws://127.0.0.1:", 0), 0u) << gw.ws_url();
    EXPECT_FALSE(std::filesystem::exists(gw.state_dir() + "/cert.pem")) << "no certificate is needed with --no-tls";

    WssClient client;
    ConnectOptions options;
    options.tls = false;
    options.target = "/ws?subscribe=ticker.BTC-USD";
    ASSERT_TRUE(client.connect(gw.ws_port(), options)) << client.error();
    const auto welcome = client.read_text(3s);
    ASSERT_TRUE(welcome) << client.error();
    EXPECT_EQ(message_type(*welcome), "welcome");
    EXPECT_TRUE(read_until_type(client, "ticker", 3s)) << client.error();

    HttpOptions plain;
    plain.tls = false;
    EXPECT_EQ(http_get(gw.ws_port(), "/healthz", plain).status, 200);
    const auto tls = tls_probe(gw.ws_port(), 0, 0, 2s);
    EXPECT_FALSE(tls.ok) << "a TLS handshake must not succeed on a --no-tls listener";
}

}  // namespace
}  // namespace e2e
