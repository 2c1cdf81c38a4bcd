// The gateway's JWT verification (gateway/auth/token_verifier.cpp, libjwt 1.10): arbitrary bytes
// as a token, and fuzz bytes as the claims of a token signed with a key the verifier has, so the
// claim checks are reached past the signature. Two verifiers: "full" (an HS256 secret, an ES256
// public key with kid "ec1", audience and issuer set) and "plain" (the secret alone).
//
// Input: byte 0 chooses, the rest is the token or the claims JSON.
//   byte0 % 8 in 0..3: the rest is a token, verified by both
//   4..6: the rest is the claims, signed HS256/HS384/HS512 with the secret
//   byte0 15: the rest is the claims, signed ES256 with the private half of the "ec1" key (the
//      header names kid "ec1" when the claims' length is even). Rare on purpose: libjwt parses
//      the PEM key on every ES256 check, ~40 ms here; any other byte0 % 8 == 7 is a token, as 0..3.
#include <jwt.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "gateway/auth/token_verifier.hpp"
#include "protocol/base64.hpp"
#include "protocol/topic.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace auth = tickgate::gateway::auth;
namespace tp = tickgate::protocol;

namespace {

constexpr std::int64_t kNow = 1'800'000'000;  // 2027-01-15: fixed, so a finding replays
const std::string kSecret = "tickgate-fuzz-secret-0123456789abcdef";
constexpr std::string_view kAudience = "tickgate";
constexpr std::string_view kIssuer = "https://issuer.example";

using Result = std::variant<auth::TokenClaims, auth::TokenError>;

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

struct Setup {
    std::shared_ptr<const auth::TokenVerifier> full, plain;
    EVP_PKEY* ec_key = nullptr;  // kept for the life of the process

    Setup() {
        char dir[] = "/tmp/tickgate-jwt-fuzz-XXXXXX";
        FUZZ_CHECK(mkdtemp(dir) != nullptr);
        const std::string secret_file = std::string(dir) + "/secret";
        const std::string key_file = std::string(dir) + "/ec1.pem";
        std::ofstream(secret_file) << kSecret << "\n";  // trailing whitespace is not part of it
        EVP_PKEY* key = EVP_EC_gen("P-256");
        FUZZ_CHECK(key != nullptr);
        std::ofstream(key_file) << pem_of(key, true);
        ec_key = key;

        std::string error;
        auth::KeySettings settings;
        settings.secret_file = secret_file;
        settings.public_key_files = {key_file};  // kid "ec1", from the file name
        settings.audience = kAudience;
        settings.issuer = kIssuer;
        full = auth::TokenVerifier::load(settings, error);
        FUZZ_CHECK(full != nullptr);
        auth::KeySettings secret_only;
        secret_only.secret_file = secret_file;
        plain = auth::TokenVerifier::load(secret_only, error);
        FUZZ_CHECK(plain != nullptr);
        FUZZ_CHECK(!full->describe().empty());
        std::remove(secret_file.c_str());
        std::remove(key_file.c_str());
        rmdir(dir);
    }
};

const Setup& setup() {
    static const Setup s;
    return s;
}

bool same_claims(const auth::TokenClaims& a, const auth::TokenClaims& b) {
    return a.sub == b.sub && a.exp == b.exp && a.topics == b.topics && a.publish == b.publish;
}

bool same_result(const Result& a, const Result& b) {
    if (a.index() != b.index()) return false;
    if (const auto* c = std::get_if<auth::TokenClaims>(&a)) return same_claims(*c, std::get<auth::TokenClaims>(b));
    return std::get<auth::TokenError>(a) == std::get<auth::TokenError>(b);
}

/// What the header promises of any answer, and that asking again (now from the cache when it was
/// accepted) gives the same one.
void check_result(const auth::TokenVerifier& verifier, std::string_view token, const Result& r) {
    if (const auto* error = std::get_if<auth::TokenError>(&r)) {
        const std::string_view message = auth::token_error_message(*error);
        FUZZ_CHECK(!message.empty());
        FUZZ_CHECK(message != "invalid token");  // the fallback: not one of the enumerators
        FUZZ_CHECK((*error == auth::TokenError::too_large) == (token.size() > auth::kMaxTokenBytes));
    } else {
        const auto& claims = std::get<auth::TokenClaims>(r);
        FUZZ_CHECK(token.size() <= auth::kMaxTokenBytes);
        FUZZ_CHECK(!claims.sub.empty());
        FUZZ_CHECK(claims.sub != "admin" && !claims.sub.starts_with("anon:"));
        FUZZ_CHECK(claims.exp + auth::kLeewaySeconds > kNow);
        if (claims.topics)
            for (const auto& t : *claims.topics) FUZZ_CHECK(tp::classify_entry(t) != tp::EntryKind::invalid);
        for (const auto& t : claims.publish) FUZZ_CHECK(tp::classify_entry(t) != tp::EntryKind::invalid);
        // header.claims.signature
        FUZZ_CHECK(std::count(token.begin(), token.end(), '.') == 2);
    }
    // Asked again, an accepted token comes from the cache: the same claims.
    if (std::holds_alternative<auth::TokenClaims>(r)) FUZZ_CHECK(same_result(r, verifier.verify(token, kNow)));
}

void verify_both(std::string_view token) {
    const auto& s = setup();
    const Result full = s.full->verify(token, kNow);
    check_result(*s.full, token, full);
    const Result plain = s.plain->verify(token, kNow);
    check_result(*s.plain, token, plain);
    // The full verifier checks more (aud, iss) and has one more key (ES256): what it accepts, the
    // secret alone accepts too, with the same claims, unless it was the ES256 key's token.
    if (const auto* claims = std::get_if<auth::TokenClaims>(&full)) {
        if (const auto* other = std::get_if<auth::TokenClaims>(&plain)) {
            FUZZ_CHECK(same_claims(*claims, *other));
        } else {
            const auto e = std::get<auth::TokenError>(plain);
            FUZZ_CHECK(e == auth::TokenError::alg_not_allowed || e == auth::TokenError::unknown_kid);
        }
    }
}

struct JwtFree {
    void operator()(jwt_t* j) const noexcept { jwt_free(j); }
};

/// Signs `claims` as libjwt would for an issuer; empty when libjwt refuses the JSON.
std::string sign(const std::string& claims, jwt_alg_t alg, const std::string& key, std::string& grants) {
    jwt_t* raw = nullptr;
    if (jwt_new(&raw) != 0) return {};
    std::unique_ptr<jwt_t, JwtFree> jwt(raw);
    if (jwt_add_grants_json(jwt.get(), claims.c_str()) != 0) return {};
    if (jwt_set_alg(jwt.get(), alg, reinterpret_cast<const unsigned char*>(key.data()), static_cast<int>(key.size())) != 0)
        return {};
    char* text = jwt_encode_str(jwt.get());
    if (!text) return {};
    std::string token(text);
    std::free(text);
    char* g = jwt_get_grants_json(jwt.get(), nullptr);
    if (!g) return {};
    grants = g;
    std::free(g);
    return token;
}

std::string base64url(std::string_view bytes) {
    std::string b64;
    tp::append_base64(bytes, b64);
    while (!b64.empty() && b64.back() == '=') b64.pop_back();
    for (char& c : b64) c = c == '+' ? '-' : c == '/' ? '_' : c;
    return b64;
}

/// The claims of an HS256 token libjwt made (so JSON libjwt takes, as it writes it) under an
/// ES256 header, signed with the "ec1" key by OpenSSL (libjwt would parse the PEM key again:
/// 100 ms a token under the sanitizers). JWS ES256: the signature is R || S, 32 bytes each.
std::string resign_es256(const std::string& hs_token, bool kid) {
    const auto first = hs_token.find('.');
    const auto second = hs_token.find('.', first + 1);
    if (first == std::string::npos || second == std::string::npos) return {};
    const std::string header = kid ? R"({"alg":"ES256","kid":"ec1","typ":"JWT"})" : R"({"alg":"ES256","typ":"JWT"})";
    const std::string input = base64url(header) + hs_token.substr(first, second - first);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    unsigned char der[128];
    std::size_t der_len = sizeof der;
    const bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, setup().ec_key) == 1 &&
                    EVP_DigestSign(ctx, der, &der_len, reinterpret_cast<const unsigned char*>(input.data()),
                                   input.size()) == 1;
    EVP_MD_CTX_free(ctx);
    FUZZ_CHECK(ok);
    const unsigned char* p = der;
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len));
    FUZZ_CHECK(sig != nullptr);
    unsigned char rs[64];
    FUZZ_CHECK(BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32) == 32 && BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32) == 32);
    ECDSA_SIG_free(sig);
    return input + "." + base64url(std::string_view(reinterpret_cast<const char*>(rs), sizeof rs));
}

/// A token signed with a key the verifier holds: the signature and header checks pass, so the
/// answer is the claims' (or too_large). Against the claims as libjwt wrote them (`grants`: it
/// keeps one of a repeated member, reorders), the plain verifier's answer is predictable in the
/// simple cases.
void check_signed(const std::string& token, const std::string& grants, bool es256) {
    const auto& s = setup();
    for (const auto* verifier : {s.full.get(), s.plain.get()}) {
        const Result r = verifier->verify(token, kNow);
        check_result(*verifier, token, r);
        if (const auto* e = std::get_if<auth::TokenError>(&r)) {
            FUZZ_CHECK(*e != auth::TokenError::bad_signature);
            // The plain verifier has no key for an ES256 token: alg_not_allowed, or unknown_kid
            // when the token names one.
            if (!(es256 && verifier == s.plain.get()))
                FUZZ_CHECK(*e != auth::TokenError::alg_not_allowed && *e != auth::TokenError::unknown_kid);
        }
    }
    if (es256 || token.size() > auth::kMaxTokenBytes) return;

    rapidjson::Document doc;
    doc.Parse(grants.data(), grants.size());
    if (doc.HasParseError() || !doc.IsObject()) return;
    const Result r = s.plain->verify(token, kNow);
    const auto sub = doc.FindMember("sub");
    const auto exp = doc.FindMember("exp");
    if (const auto* claims = std::get_if<auth::TokenClaims>(&r)) {
        // Found by this target (inputs corpus/jwt_fuzz/regression-*-1e300): read_claims cast nbf,
        // iat and exp to int64_t unchecked, undefined beyond its range; on x86-64 1e300 became
        // INT64_MIN, so a token not valid before 1e300 was accepted. (Whole seconds: a fraction
        // within the leeway's last second is truncated.)
        for (const char* name : {"nbf", "iat"}) {
            const auto t = doc.FindMember(name);
            if (t != doc.MemberEnd() && t->value.IsNumber())
                FUZZ_CHECK(std::floor(t->value.GetDouble()) <= static_cast<double>(kNow + auth::kLeewaySeconds));
        }
        FUZZ_CHECK(sub != doc.MemberEnd() && sub->value.IsString() && claims->sub == sub->value.GetString());
        FUZZ_CHECK(exp != doc.MemberEnd() && exp->value.IsNumber());
        FUZZ_CHECK(claims->topics.has_value() == doc.HasMember("topics"));
        return;
    }
    // sub and exp fine, nothing else the verifier reads: accepted.
    const bool simple = sub != doc.MemberEnd() && sub->value.IsString() && sub->value.GetStringLength() > 0 &&
                        std::string_view(sub->value.GetString()) != "admin" &&
                        !std::string_view(sub->value.GetString()).starts_with("anon:") &&
                        std::string_view(sub->value.GetString()).size() == sub->value.GetStringLength() &&
                        exp != doc.MemberEnd() && exp->value.IsNumber() && std::fabs(exp->value.GetDouble()) < 1e15 &&
                        exp->value.GetDouble() >= static_cast<double>(kNow) && !doc.HasMember("nbf") &&
                        !doc.HasMember("iat") && !doc.HasMember("topics") && !doc.HasMember("publish");
    FUZZ_CHECK(!simple);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    (void)setup();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const unsigned mode = data[0];
    const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (mode % 8) {
    case 4:
    case 5:
    case 6: {
        static constexpr jwt_alg_t algs[] = {JWT_ALG_HS256, JWT_ALG_HS384, JWT_ALG_HS512};
        std::string grants;
        const std::string token = sign(rest, algs[mode % 8 - 4], kSecret, grants);
        if (!token.empty()) check_signed(token, grants, false);
        break;
    }
    case 7: {
        if (mode != 15) {
            verify_both(rest);
            break;
        }
        std::string grants;
        const std::string hs = sign(rest, JWT_ALG_HS256, kSecret, grants);
        if (hs.empty()) break;
        const std::string token = resign_es256(hs, rest.size() % 2 == 0);
        if (!token.empty()) check_signed(token, grants, true);
        break;
    }
    default: verify_both(rest);
    }
    return 0;
}
