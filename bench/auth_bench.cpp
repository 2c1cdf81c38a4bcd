// What access control adds to a connection's upgrade, in CPU, without sockets: verifying its JWT
// (gateway/auth/token_verifier.cpp, libjwt) and taking its per-user slot, as the upgrade request
// does, against a gateway without keys (the check that access control is off, nothing else).
// Set beside ServerHandshake/2 of tls_handshake_bench, the TLS handshake every connection pays.
//
//   Upgrade/none:   access control off
//   Upgrade/es256:  an ES256 token (P-256), the usual asymmetric choice
//   Upgrade/rs256:  an RS256 token (2048-bit key)
//   Upgrade/hs256:  an HS256 token (shared secret)
//   Upgrade/es256_same_token: an ES256 token the verifier has verified before (a reconnect)
//   PemParse/1, /2: parsing the EC or RSA public key PEM alone, which libjwt 1.10 does per token
// There is no per-message case: entitlements are decided on subscribe and refresh only, so the
// fan-out path is the same code with access control on or off.
#include <benchmark/benchmark.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/thread_cpu_clock.hpp"
#include "gateway/auth/access_control.hpp"
#include "gateway/config.hpp"

namespace {

using namespace tickgate::gateway;
using Clock = tickgate::bench::ThreadCpuClock;

const std::string kSecret = "0123456789abcdef0123456789abcdef-bench-secret";

std::string pem_of(EVP_PKEY* key, bool public_part) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (public_part)
        PEM_write_bio_PUBKEY(bio, key);
    else
        PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return out;
}

std::string sign(jwt_alg_t alg, const std::string& key, int jti = 0) {
    jwt_t* jwt = nullptr;
    jwt_new(&jwt);
    const auto exp = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count() + 3600;
    const std::string claims = R"({"sub":"bench-user","aud":"tickgate","topics":["ticker.*","book.BTC-USD"],"jti":)" +
                               std::to_string(jti) + R"(,"exp":)" + std::to_string(exp) + "}";
    jwt_add_grants_json(jwt, claims.c_str());
    jwt_set_alg(jwt, alg, reinterpret_cast<const unsigned char*>(key.data()), static_cast<int>(key.size()));
    char* text = jwt_encode_str(jwt);
    if (!text) throw std::runtime_error("jwt_encode_str failed");
    std::string token(text);
    std::free(text);
    jwt_free(jwt);
    return token;
}

struct Setup {
    std::unique_ptr<auth::AccessControl> access;
    std::string token;
    jwt_alg_t alg = JWT_ALG_NONE;
    std::string signing_key;
};

/// 0: none, 1: es256, 2: rs256, 3: hs256.
Setup make(int kind) {
    const auto dir = std::filesystem::temp_directory_path() / "tickgate-auth-bench";
    std::filesystem::create_directories(dir);
    Config config;
    config.jwt.audience = "tickgate";
    Setup s;
    if (kind == 1 || kind == 2) {
        EVP_PKEY* key = kind == 1 ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
        const auto file = (dir / "key.pem").string();
        std::ofstream(file) << pem_of(key, true);
        config.jwt.public_key_files = {file};
        s.alg = kind == 1 ? JWT_ALG_ES256 : JWT_ALG_RS256;
        s.signing_key = pem_of(key, false);
        EVP_PKEY_free(key);
    } else if (kind == 3) {
        const auto file = (dir / "secret").string();
        std::ofstream(file) << kSecret;
        config.jwt.secret_file = file;
        s.alg = JWT_ALG_HS256;
        s.signing_key = kSecret;
    }
    if (kind != 0) s.token = sign(s.alg, s.signing_key);
    if (kind == 0) config.jwt.audience.clear();
    s.access = std::make_unique<auth::AccessControl>(config);
    std::string error;
    if (!s.access->load(error)) throw std::runtime_error(error);
    return s;
}

/// `repeat`: every iteration brings the same token, as a reconnecting client does (the verifier
/// remembers it); otherwise each iteration's token is one it has not seen.
void Upgrade(benchmark::State& state, int kind, bool repeat) {
    static Setup s;  // key generation (RSA especially) is not what is measured
    static int made = -1;
    if (made != kind) {
        s = make(kind);
        made = kind;
    }
    // A new token for every iteration (a "jti" makes it so), signed outside the timed part: the
    // verifier has never seen it.
    static int jti = 0;
    for (auto _ : state) {
        const std::string token = repeat || !s.access->enabled() ? s.token : sign(s.alg, s.signing_key, ++jti);
        const auto t0 = Clock::now();
        if (s.access->enabled()) {
            auto verified = s.access->verify(token);
            if (!std::holds_alternative<auth::TokenClaims>(verified)) {
                state.SkipWithError("the token did not verify");
                break;
            }
            auto identity = s.access->identify(std::move(std::get<auth::TokenClaims>(verified)));
            benchmark::DoNotOptimize(identity.slot.admitted());
        }
        state.SetIterationTime(std::chrono::duration<double>(Clock::now() - t0).count());
    }
}
BENCHMARK_CAPTURE(Upgrade, none, 0, false)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(Upgrade, es256, 1, false)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(Upgrade, rs256, 2, false)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(Upgrade, hs256, 3, false)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(Upgrade, es256_same_token, 1, true)->UseManualTime()->Unit(benchmark::kMicrosecond);

/// What libjwt 1.10 repeats on every verification, since it takes the key as PEM text: parsing
/// the PEM into an EVP_PKEY (OpenSSL 3's decoders). Most of the es256 and rs256 figures.
void PemParse(benchmark::State& state) {
    EVP_PKEY* key = state.range(0) == 1 ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
    const std::string pem = pem_of(key, true);
    EVP_PKEY_free(key);
    for (auto _ : state) {
        const auto t0 = Clock::now();
        BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
        EVP_PKEY* parsed = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
        benchmark::DoNotOptimize(parsed);
        EVP_PKEY_free(parsed);
        BIO_free(bio);
        state.SetIterationTime(std::chrono::duration<double>(Clock::now() - t0).count());
    }
}
BENCHMARK(PemParse)->ArgName("ec1_rsa2")->Arg(1)->Arg(2)->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace
