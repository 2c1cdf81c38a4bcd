// The gateway's own TLS 1.3 records (gateway/tls_record_sealer.hpp) read by a stock OpenSSL
// client over loopback TCP: every suite, records OpenSSL wrote before sealing began, messages
// larger than one record, the KeyUpdate a client asks for, an alert OpenSSL sends while sealing,
// close_notify, and TLS 1.2, which is never sealed.
#include "gateway/tls.hpp"
#include "gateway/tls_socket.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <gtest/gtest.h>

#include "tests/gateway/byte_pattern.hpp"
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <sys/socket.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

namespace tickgate::gateway {
namespace {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::shared_ptr<asio::ssl::context> server_context() {
    static std::shared_ptr<asio::ssl::context> context = [] {
        const std::string dir = (std::filesystem::temp_directory_path() / "tickgate-sealing-test").string();
        std::string cert, key, error;
        if (!ensure_self_signed_certificate(dir, cert, key, error)) throw std::runtime_error(error);
        auto c = make_tls_context(cert, key, error);
        if (!c) throw std::runtime_error(error);
        return c;
    }();
    return context;
}

std::string pattern(std::size_t size, unsigned seed) { return testing::byte_pattern(size, seed); }

/// A server TlsSocket and a plain OpenSSL client on the two ends of one loopback connection.
class Connection {
public:
    explicit Connection(const char* suites, int max_version = TLS1_3_VERSION, std::uint8_t max_fragment_length = 0)
        : client_context_(SSL_CTX_new(TLS_client_method())) {
        SSL_CTX_set_max_proto_version(client_context_, max_version);
        if (max_fragment_length) SSL_CTX_set_tlsext_max_fragment_length(client_context_, max_fragment_length);
        if (max_version == TLS1_3_VERSION) SSL_CTX_set_ciphersuites(client_context_, suites);
        SSL_CTX_set_verify(client_context_, SSL_VERIFY_NONE, nullptr);
        tcp::acceptor acceptor(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        client_socket_.connect(acceptor.local_endpoint());
        server_ = std::make_unique<TlsSocket>(acceptor.accept(), server_context()->native_handle());
        client_ = SSL_new(client_context_);
        SSL_set_fd(client_, client_socket_.native_handle());
        SSL_set_connect_state(client_);
        SSL_set_msg_callback(client_, &Connection::on_client_message);
        SSL_set_msg_callback_arg(client_, this);
        client_socket_.non_blocking(true);
        bool server_done = false, client_done = false;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!(server_done && client_done) && std::chrono::steady_clock::now() < deadline) {
            boost::system::error_code ec;
            if (!server_done) server_done = server_->handshake_step(ec) == Want::nothing && !ec;
            if (ec) throw std::runtime_error("server handshake: " + ec.message());
            if (!client_done) client_done = SSL_do_handshake(client_) == 1;
            ERR_clear_error();
        }
        if (!(server_done && client_done)) throw std::runtime_error("handshake did not finish");
    }
    ~Connection() {
        SSL_free(client_);
        SSL_CTX_free(client_context_);
    }

    TlsSocket& server() { return *server_; }
    SSL* client() { return client_; }
    int key_updates_received() const { return key_updates_received_; }

    /// What the batch writer does with a sink's records: every byte onto the socket, in order.
    void send_records(std::string& records) {
        std::size_t sent = 0;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (sent < records.size() && std::chrono::steady_clock::now() < deadline) {
            const ssize_t n = ::send(server_->next_layer().native_handle(), records.data() + sent,
                                     records.size() - sent, MSG_NOSIGNAL);
            if (n > 0) sent += static_cast<std::size_t>(n);
            else drain_some();  // the client's receive buffer is full: the reads below make room
        }
        records.clear();
    }

    /// Reads exactly `size` bytes of plaintext on the client (records already sent, or sent by
    /// the caller in pieces), failing the test on any TLS error.
    std::string client_read(std::size_t size) {
        std::string out = std::move(pending_);
        pending_.clear();
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        char buffer[32768];
        while (out.size() < size && std::chrono::steady_clock::now() < deadline) {
            const int n = SSL_read(client_, buffer, sizeof buffer);
            if (n > 0) {
                out.append(buffer, static_cast<std::size_t>(n));
                continue;
            }
            const int error = SSL_get_error(client_, n);
            if (error != SSL_ERROR_WANT_READ) {
                ADD_FAILURE() << "client read failed: SSL error " << error << ", "
                              << ERR_reason_error_string(ERR_peek_error());
                ERR_clear_error();
                return out;
            }
        }
        return out;
    }

    /// Sets the sink and sends one 300-byte message through it, read back by the client: the
    /// connection is sealing from here on.
    void start_sealing(std::string& records, unsigned seed) {
        boost::system::error_code ec;
        server_->set_write_sink(&records);
        const std::string message = testing::byte_pattern(300, seed);
        Want want = Want::nothing;
        ASSERT_EQ(server_->write_now(message.data(), message.size(), want, ec), message.size()) << ec.message();
        send_records(records);
        ASSERT_EQ(client_read(message.size()), message);
        ASSERT_TRUE(server_->sealing());
    }

    /// The client updates its key and asks the server for the same (RFC 8446 §4.6.3), then sends
    /// `note`, which the server reads.
    void client_asks_for_key_update(const std::string& note) {
        ASSERT_EQ(SSL_key_update(client_, SSL_KEY_UPDATE_REQUESTED), 1);
        ASSERT_EQ(SSL_write(client_, note.data(), static_cast<int>(note.size())), static_cast<int>(note.size()));
        boost::system::error_code ec;
        ASSERT_EQ(server_read(note.size(), ec), note);
        ASSERT_FALSE(ec) << ec.message();
    }

    /// Reads on the client until it gets something other than "want read": the SSL error code.
    int client_read_until_not_wanting() {
        char buffer[64];
        int error = SSL_ERROR_WANT_READ;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (error == SSL_ERROR_WANT_READ && std::chrono::steady_clock::now() < deadline)
            error = SSL_get_error(client_, SSL_read(client_, buffer, sizeof buffer));
        return error;
    }

    /// The server reads until `size` bytes of plaintext came or it fails; returns what it read.
    std::string server_read(std::size_t size, boost::system::error_code& ec) {
        std::string out;
        char buffer[4096];
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (out.size() < size && !ec && std::chrono::steady_clock::now() < deadline) {
            Want want = Want::nothing;
            const std::size_t n = server_->read_now(buffer, sizeof buffer, want, ec);
            out.append(buffer, n);
        }
        return out;
    }

private:
    static void on_client_message(int write_p, int, int content_type, const void* buf, std::size_t len, SSL*,
                                  void* arg) {
        if (!write_p && content_type == SSL3_RT_HANDSHAKE && len > 0 && static_cast<const unsigned char*>(buf)[0] == 24)
            ++static_cast<Connection*>(arg)->key_updates_received_;
    }
    void drain_some() {
        char buffer[32768];
        const int n = SSL_read(client_, buffer, sizeof buffer);
        if (n > 0) pending_.append(buffer, static_cast<std::size_t>(n));
        else ERR_clear_error();
    }

    asio::io_context io_;
    tcp::socket client_socket_{io_};
    std::unique_ptr<TlsSocket> server_;
    SSL_CTX* client_context_;
    SSL* client_ = nullptr;
    std::string pending_;
    int key_updates_received_ = 0;
};

std::size_t server_write(TlsSocket& server, const std::string& data, boost::system::error_code& ec) {
    Want want = Want::nothing;
    return server.write_now(data.data(), data.size(), want, ec);
}

class SealedSuite : public ::testing::TestWithParam<const char*> {};

TEST_P(SealedSuite, AStockClientReadsEverySealedRecordInOrder) {
    Connection c(GetParam());
    boost::system::error_code ec;
    // Before the sink: OpenSSL's own records (the HTTP upgrade's answer), which the sealer counts.
    const std::string first = pattern(200, 1) + pattern(900, 2);
    ASSERT_EQ(server_write(c.server(), first, ec), first.size());
    EXPECT_FALSE(c.server().sealing());
    std::string records;
    c.server().set_write_sink(&records);
    std::string expected = first;
    for (unsigned i = 0; i < 50; ++i) {
        // One above a record's 16 KiB, the rest the size of a ticker frame.
        const std::string message = pattern(i == 7 ? 40000 : 300, 10 + i);
        ASSERT_EQ(server_write(c.server(), message, ec), message.size()) << ec.message();
        expected += message;
    }
    EXPECT_TRUE(c.server().sealing()) << "a TLS 1.3 connection writing into a sink seals its records";
    c.send_records(records);
    EXPECT_EQ(c.client_read(expected.size()), expected);
}

INSTANTIATE_TEST_SUITE_P(Tls13, SealedSuite,
                         ::testing::Values("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                           "TLS_CHACHA20_POLY1305_SHA256"));

TEST(TlsSealing, AClientsKeyUpdateRequestIsAnsweredAndTheNewKeyUsed) {
    Connection c("TLS_AES_256_GCM_SHA384");
    boost::system::error_code ec;
    std::string records;
    ASSERT_NO_FATAL_FAILURE(c.start_sealing(records, 3));

    ASSERT_NO_FATAL_FAILURE(c.client_asks_for_key_update("ping"));

    std::string after;
    for (unsigned i = 0; i < 5; ++i) {
        const std::string message = pattern(300, 20 + i);
        ASSERT_EQ(server_write(c.server(), message, ec), message.size());
        after += message;
    }
    c.send_records(records);
    EXPECT_EQ(c.client_read(after.size()), after);
    EXPECT_EQ(c.key_updates_received(), 1) << "the server answers with a KeyUpdate of its own";

    // Twice: the sealer follows every key, not only the first update.
    ASSERT_NO_FATAL_FAILURE(c.client_asks_for_key_update("pong"));
    const std::string last = pattern(1000, 30);
    ASSERT_EQ(server_write(c.server(), last, ec), last.size());
    c.send_records(records);
    EXPECT_EQ(c.client_read(last.size()), last);
    EXPECT_EQ(c.key_updates_received(), 2);
}

TEST(TlsSealing, CloseNotifyAfterSealingEndsTheClientsStreamCleanly) {
    Connection c("TLS_AES_128_GCM_SHA256");
    std::string records;
    ASSERT_NO_FATAL_FAILURE(c.start_sealing(records, 4));
    c.server().send_close_notify();
    EXPECT_EQ(c.client_read_until_not_wanting(), SSL_ERROR_ZERO_RETURN) << ERR_reason_error_string(ERR_peek_error());
    ERR_clear_error();
}

TEST(TlsSealing, AnAlertOpenSslSendsWhileSealingReachesTheClientReadable) {
    Connection c("TLS_AES_256_GCM_SHA384");
    boost::system::error_code ec;
    std::string records;
    ASSERT_NO_FATAL_FAILURE(c.start_sealing(records, 5));
    // An application-data record no key made: the server must answer bad_record_mac.
    std::string forged = {23, 3, 3, 0, 40};
    forged += pattern(40, 6);
    ASSERT_EQ(::send(SSL_get_fd(c.client()), forged.data(), forged.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(forged.size()));
    c.server_read(1, ec);
    ASSERT_TRUE(ec) << "the forged record is refused";
    ASSERT_FALSE(records.empty()) << "OpenSSL's alert was sealed into the sink";
    c.send_records(records);
    ASSERT_EQ(c.client_read_until_not_wanting(), SSL_ERROR_SSL);
    // The client decrypted the alert: it reports the server's bad_record_mac, not a record of
    // its own it could not decrypt (SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC).
    EXPECT_EQ(ERR_GET_REASON(ERR_peek_error()), SSL_AD_REASON_OFFSET + SSL_AD_BAD_RECORD_MAC)
        << ERR_reason_error_string(ERR_peek_error());
    ERR_clear_error();
}

TEST(TlsSealing, AKeyUpdateRequestedBeforeSealingStartsIsAnsweredFirst) {
    Connection c("TLS_AES_128_GCM_SHA256");
    boost::system::error_code ec;
    ASSERT_NO_FATAL_FAILURE(c.client_asks_for_key_update("ping"));
    std::string records;
    c.server().set_write_sink(&records);
    const std::string message = pattern(2000, 50);
    ASSERT_EQ(server_write(c.server(), message, ec), message.size());
    EXPECT_TRUE(c.server().sealing());
    c.send_records(records);
    EXPECT_EQ(c.client_read(message.size()), message);
    EXPECT_EQ(c.key_updates_received(), 1);
}

TEST(TlsSealing, SealingGoesOnUnderTheKeyOpenSslMovedTo) {
    // OpenSSL answers the request itself (a write before the sink), under the new key its records
    // go on at number 0; the sealer must count them from there.
    Connection c("TLS_AES_256_GCM_SHA384");
    boost::system::error_code ec;
    ASSERT_NO_FATAL_FAILURE(c.client_asks_for_key_update("ping"));
    const std::string first = pattern(700, 51);
    ASSERT_EQ(server_write(c.server(), first, ec), first.size());
    ASSERT_EQ(c.client_read(first.size()), first);
    EXPECT_EQ(c.key_updates_received(), 1);
    std::string records;
    c.server().set_write_sink(&records);
    const std::string sealed = pattern(700, 52);
    ASSERT_EQ(server_write(c.server(), sealed, ec), sealed.size());
    EXPECT_TRUE(c.server().sealing());
    c.send_records(records);
    EXPECT_EQ(c.client_read(sealed.size()), sealed);
}

TEST(TlsSealing, AClientThatAskedForSmallRecordsIsLeftToOpenSsl) {
    // max_fragment_length (RFC 6066 §4): 512-byte records, which the sealer does not make.
    Connection c("TLS_AES_128_GCM_SHA256", TLS1_3_VERSION, TLSEXT_max_fragment_length_512);
    boost::system::error_code ec;
    std::string records;
    c.server().set_write_sink(&records);
    const std::string message = pattern(3000, 53);
    ASSERT_EQ(server_write(c.server(), message, ec), message.size());
    EXPECT_FALSE(c.server().sealing());
    c.send_records(records);
    EXPECT_EQ(c.client_read(message.size()), message);
}

TEST(TlsSealing, Tls12IsLeftToOpenSsl) {
    Connection c(nullptr, TLS1_2_VERSION);
    boost::system::error_code ec;
    std::string records;
    c.server().set_write_sink(&records);
    std::string expected;
    for (unsigned i = 0; i < 10; ++i) {
        const std::string message = pattern(300, 40 + i);
        ASSERT_EQ(server_write(c.server(), message, ec), message.size());
        expected += message;
    }
    EXPECT_FALSE(c.server().sealing());
    c.send_records(records);
    EXPECT_EQ(c.client_read(expected.size()), expected);
}

}  // namespace
}  // namespace tickgate::gateway
