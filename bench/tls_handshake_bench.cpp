// What one TLS handshake costs in CPU, without sockets: a client and a server SSL object
// exchange records through memory BIOs, with the gateway's own server context (ECDSA P-256
// self-signed certificate, TLS 1.3, X25519) and the settings it uses. The handshake-storm
// scenario is bounded by this plus the TCP connect and close, on both ends of one machine.
//
//   ServerHandshake/T:  server-side work per handshake with T session tickets sent
//   ServerHandshakeWithoutKeyLog: ServerHandshake/0 with no key-log callback (which sealing needs)
//   ClientHandshake:    client-side work (what tickgate-load pays for each connection)
//   RecordWrite/R/E:    one 300-byte SSL_write on an established connection, R = release buffers,
//                       E = how the error queue is emptied before it (0 not at all, 1 ERR_clear_error,
//                       2 ERR_clear_error only when ERR_peek_error finds something: the gateway's way)
//   RecordWriteAcross/N: the gateway's SSL_write (error queue peeked) to N connections in turn
//   RecordSeal/N:       the same record made by the gateway's sealer (gateway/tls_record_sealer.hpp,
//                       the uring backend's way), N connections in turn: N = 100 is one update's
//                       fan-out, where each connection's state is cold again by its turn
//   SealerKeys:         deriving a sealer's key and IV from a traffic secret (once per connection
//                       and per KeyUpdate)
//   SslNew:             the per-connection SSL object alone
#include <benchmark/benchmark.h>
#include <boost/asio/ssl/context.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/thread_cpu_clock.hpp"
#include "gateway/tls.hpp"
#include "gateway/tls_record_sealer.hpp"

namespace {

using tickgate::gateway::ensure_self_signed_certificate;
using tickgate::gateway::make_tls_context;

std::shared_ptr<boost::asio::ssl::context> server_context() {
    static std::shared_ptr<boost::asio::ssl::context> ctx = [] {
        const std::string dir = (std::filesystem::temp_directory_path() / "tickgate-tls-bench").string();
        std::string cert, key, error;
        if (!ensure_self_signed_certificate(dir, cert, key, error)) throw std::runtime_error(error);
        auto c = make_tls_context(cert, key, error);
        if (!c) throw std::runtime_error(error);
        return c;
    }();
    return ctx;
}

SSL_CTX* client_context() {
    static SSL_CTX* ctx = [] {
        SSL_CTX* c = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
        return c;
    }();
    return ctx;
}

struct Pair {
    SSL* client;
    SSL* server;
    explicit Pair(SSL_CTX* server_ctx) {
        client = SSL_new(client_context());
        server = SSL_new(server_ctx);
        BIO *a = nullptr, *b = nullptr;
        BIO_new_bio_pair(&a, 0, &b, 0);
        SSL_set_bio(client, a, a);
        SSL_set_bio(server, b, b);
        SSL_set_connect_state(client);
        SSL_set_accept_state(server);
    }
    ~Pair() {
        SSL_free(client);
        SSL_free(server);
    }
};

using tickgate::bench::ThreadCpuClock;

/// Runs the handshake to completion, timing (in CPU time) only the side asked for. Afterwards both sides read
/// once so the server's tickets are written and taken in (as on a real connection).
double handshake(Pair& p, bool time_server) {
    using clock = ThreadCpuClock;
    clock::duration spent{};
    bool client_done = false, server_done = false;
    for (int round = 0; round < 16 && !(client_done && server_done); ++round) {
        auto t0 = clock::now();
        if (!client_done) client_done = SSL_do_handshake(p.client) == 1;
        auto t1 = clock::now();
        if (!server_done) server_done = SSL_do_handshake(p.server) == 1;
        auto t2 = clock::now();
        spent += time_server ? t2 - t1 : t1 - t0;
    }
    if (!client_done || !server_done) throw std::runtime_error("handshake did not complete");
    char buf[256];
    auto t0 = clock::now();
    if (SSL_write(p.server, "x", 1) != 1) throw std::runtime_error("server write failed");  // tickets go out first
    auto t1 = clock::now();
    if (SSL_read(p.client, buf, sizeof buf) != 1) throw std::runtime_error("client read failed");
    auto t2 = clock::now();
    spent += time_server ? t1 - t0 : t2 - t1;
    ERR_clear_error();
    return std::chrono::duration<double>(spent).count();
}

void ServerHandshake(benchmark::State& state) {
    SSL_CTX* ctx = server_context()->native_handle();
    SSL_CTX_set_num_tickets(ctx, static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) {
        Pair p(ctx);
        state.SetIterationTime(handshake(p, true));
    }
    SSL_CTX_set_num_tickets(ctx, 2);
}
BENCHMARK(ServerHandshake)->Arg(0)->Arg(1)->Arg(2)->UseManualTime()->Unit(benchmark::kMicrosecond);

/// ServerHandshake/0 without the key-log callback the sealer takes its secrets from: what the
/// callback costs a handshake (OpenSSL formats five hex lines for it, a sprintf per byte).
void ServerHandshakeWithoutKeyLog(benchmark::State& state) {
    SSL_CTX* ctx = server_context()->native_handle();
    SSL_CTX_set_num_tickets(ctx, 0);
    const auto keylog = SSL_CTX_get_keylog_callback(ctx);
    SSL_CTX_set_keylog_callback(ctx, nullptr);
    for (auto _ : state) {
        Pair p(ctx);
        state.SetIterationTime(handshake(p, true));
    }
    SSL_CTX_set_keylog_callback(ctx, keylog);
    SSL_CTX_set_num_tickets(ctx, 2);
}
BENCHMARK(ServerHandshakeWithoutKeyLog)->UseManualTime()->Unit(benchmark::kMicrosecond);

void ClientHandshake(benchmark::State& state) {
    SSL_CTX* ctx = server_context()->native_handle();
    for (auto _ : state) {
        Pair p(ctx);
        state.SetIterationTime(handshake(p, false));
    }
}
BENCHMARK(ClientHandshake)->UseManualTime()->Unit(benchmark::kMicrosecond);

/// One SSL_write of a typical update frame (300 bytes) on an established TLS 1.3 connection,
/// into a null BIO so no syscall is counted: the per-message TLS cost of the fan-out path.
/// Arg: 1 = SSL_MODE_RELEASE_BUFFERS (the gateway's setting: the write buffer is allocated and
/// freed around every write), 0 = buffers kept for the connection's life. Second arg: see the top.
/// OpenSSL 3.0's ERR_clear_error resets all 16 slots of the thread's queue on every call, which
/// is why the gateway peeks first.
void RecordWrite(benchmark::State& state) {
    SSL_CTX* ctx = server_context()->native_handle();
    Pair p(ctx);
    handshake(p, true);
    if (state.range(0) == 0) SSL_clear_mode(p.server, SSL_MODE_RELEASE_BUFFERS);
    BIO* sink = BIO_new(BIO_s_null());
    SSL_set0_wbio(p.server, sink);
    const std::string frame(300, 'x');
    const auto empty_errors = state.range(1);
    for (auto _ : state) {
        if (empty_errors == 1) ERR_clear_error();
        else if (empty_errors == 2 && ERR_peek_error() != 0) ERR_clear_error();
        if (SSL_write(p.server, frame.data(), static_cast<int>(frame.size())) != static_cast<int>(frame.size()))
            return state.SkipWithError("SSL_write failed");
    }
}
BENCHMARK(RecordWrite)->ArgsProduct({{1, 0}, {0, 1, 2}});

void RecordWriteAcross(benchmark::State& state) {
    SSL_CTX* ctx = server_context()->native_handle();
    std::vector<std::unique_ptr<Pair>> pairs;
    for (int i = 0; i < state.range(0); ++i) {
        pairs.push_back(std::make_unique<Pair>(ctx));
        handshake(*pairs.back(), true);
        SSL_set0_wbio(pairs.back()->server, BIO_new(BIO_s_null()));
    }
    const std::string frame(300, 'x');
    std::size_t next = 0;
    for (auto _ : state) {
        SSL* server = pairs[next]->server;
        next = next + 1 == pairs.size() ? 0 : next + 1;
        if (ERR_peek_error() != 0) ERR_clear_error();
        if (SSL_write(server, frame.data(), static_cast<int>(frame.size())) != static_cast<int>(frame.size()))
            return state.SkipWithError("SSL_write failed");
    }
}
BENCHMARK(RecordWriteAcross)->Arg(1)->Arg(100);

void RecordSeal(benchmark::State& state) {
    using tickgate::gateway::RecordCipher;
    using tickgate::gateway::TlsRecordSealer;
    std::vector<TlsRecordSealer> sealers(static_cast<std::size_t>(state.range(0)));
    for (std::size_t i = 0; i < sealers.size(); ++i) {
        const std::string secret(48, static_cast<char>(i + 1));
        if (!sealers[i].set_secret(RecordCipher::aes_256_gcm, secret)) return state.SkipWithError("no key");
    }
    std::vector<std::string> sinks(sealers.size());
    const std::string frame(300, 'x');
    std::size_t next = 0;
    for (auto _ : state) {
        std::string& sink = sinks[next];
        sink.clear();  // as the session's buffer after its send completed
        if (!sealers[next].seal(tickgate::gateway::kContentApplicationData, frame.data(), frame.size(), sink))
            return state.SkipWithError("seal failed");
        next = next + 1 == sealers.size() ? 0 : next + 1;
    }
}
BENCHMARK(RecordSeal)->Arg(1)->Arg(100);

void SealerKeys(benchmark::State& state) {
    tickgate::gateway::TlsRecordSealer sealer;
    const std::string secret(48, 's');
    for (auto _ : state)
        if (!sealer.set_secret(tickgate::gateway::RecordCipher::aes_256_gcm, secret))
            return state.SkipWithError("no key");
}
BENCHMARK(SealerKeys)->Unit(benchmark::kMicrosecond);

/// What SSL_new costs alone: paid once per accepted connection before any byte is read.
void SslNew(benchmark::State& state) {
    SSL_CTX* ctx = server_context()->native_handle();
    for (auto _ : state) {
        SSL* ssl = SSL_new(ctx);
        benchmark::DoNotOptimize(ssl);
        SSL_free(ssl);
    }
}
BENCHMARK(SslNew)->Unit(benchmark::kMicrosecond);

}  // namespace
