#include "gateway/auth/token_verifier.hpp"

#include <gtest/gtest.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "protocol/base64.hpp"

namespace tickgate::gateway::auth {
namespace {

constexpr std::int64_t kNow = 1'900'000'000;
const std::string kSecret = "0123456789abcdef0123456789abcdef-test-secret";

std::string b64url(std::string_view bytes) {
    std::string out;
    protocol::append_base64(bytes, out);
    for (auto& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
    while (!out.empty() && out.back() == '=') out.pop_back();
    return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
         data.size(), mac, &len);
    return std::string(reinterpret_cast<char*>(mac), len);
}

/// An HS256 token by hand, so a test can sign with any key material (the PEM text, for the
/// algorithm-confusion attack) and any header.
std::string hs256(std::string_view header, std::string_view body, std::string_view key) {
    const std::string signing = b64url(header) + "." + b64url(body);
    return signing + "." + b64url(hmac_sha256(key, signing));
}

std::string body(std::string_view extra = "", std::int64_t exp = kNow + 600) {
    std::string b = "{\"sub\":\"alice\",\"exp\":" + std::to_string(exp);
    if (!extra.empty()) b += "," + std::string(extra);
    return b + "}";
}

class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/tickgate-auth-XXXXXX";
        path_ = mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    std::string write(const std::string& name, const std::string& text) const {
        const auto p = path_ + "/" + name;
        std::ofstream(p) << text;
        return p;
    }

private:
    std::string path_;
};

struct EcKey {
    std::string private_pem, public_pem;
};

EcKey make_ec_key() {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    EcKey out;
    for (int pub = 0; pub < 2; ++pub) {
        BIO* bio = BIO_new(BIO_s_mem());
        if (pub)
            PEM_write_bio_PUBKEY(bio, key);
        else
            PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
        char* data = nullptr;
        const long n = BIO_get_mem_data(bio, &data);
        (pub ? out.public_pem : out.private_pem).assign(data, static_cast<std::size_t>(n));
        BIO_free(bio);
    }
    EVP_PKEY_free(key);
    return out;
}

/// ES256 through libjwt's own signer: a token exactly as a real issuer would make it.
std::string es256(const EcKey& key, std::string_view body_json, const char* kid = nullptr) {
    jwt_t* jwt = nullptr;
    jwt_new(&jwt);
    jwt_add_grants_json(jwt, std::string(body_json).c_str());
    if (kid) jwt_add_header(jwt, "kid", kid);
    jwt_set_alg(jwt, JWT_ALG_ES256, reinterpret_cast<const unsigned char*>(key.private_pem.data()),
                static_cast<int>(key.private_pem.size()));
    char* text = jwt_encode_str(jwt);
    std::string token = text ? text : "";
    std::free(text);
    jwt_free(jwt);
    return token;
}

class TokenVerifierTest : public ::testing::Test {
protected:
    std::shared_ptr<const TokenVerifier> load(KeySettings s) {
        std::string error;
        auto v = TokenVerifier::load(s, error);
        EXPECT_TRUE(v) << error;
        return v;
    }
    std::shared_ptr<const TokenVerifier> with_secret() {
        KeySettings s;
        s.secret_file = dir.write("secret", kSecret + "\n");
        return load(s);
    }
    std::shared_ptr<const TokenVerifier> with_public_key() {
        KeySettings s;
        s.public_key_files = {dir.write("main.pem", ec.public_pem)};
        return load(s);
    }
    static TokenError error_of(const std::variant<TokenClaims, TokenError>& r) {
        EXPECT_TRUE(std::holds_alternative<TokenError>(r)) << "token was accepted";
        return std::holds_alternative<TokenError>(r) ? std::get<TokenError>(r) : TokenError::malformed;
    }
    TempDir dir;
    EcKey ec = make_ec_key();
};

constexpr std::string_view kHs256Header = R"({"alg":"HS256","typ":"JWT"})";

TEST_F(TokenVerifierTest, Hs256TokenGrantsItsClaims) {
    auto v = with_secret();
    auto r = v->verify(hs256(kHs256Header, body(R"("topics":["ticker.*"],"publish":["orders.BTC-USD"])"), kSecret), kNow);
    ASSERT_TRUE(std::holds_alternative<TokenClaims>(r)) << token_error_message(std::get<TokenError>(r));
    const auto& c = std::get<TokenClaims>(r);
    EXPECT_EQ(c.sub, "alice");
    EXPECT_EQ(c.exp, kNow + 600);
    ASSERT_TRUE(c.topics.has_value());
    EXPECT_EQ(*c.topics, std::vector<std::string>{"ticker.*"});
    EXPECT_EQ(c.publish, std::vector<std::string>{"orders.BTC-USD"});
}

TEST_F(TokenVerifierTest, NoTopicsClaimMeansEverything) {
    auto r = with_secret()->verify(hs256(kHs256Header, body(), kSecret), kNow);
    ASSERT_TRUE(std::holds_alternative<TokenClaims>(r));
    EXPECT_FALSE(std::get<TokenClaims>(r).topics.has_value());
    EXPECT_TRUE(std::get<TokenClaims>(r).publish.empty());
}

TEST_F(TokenVerifierTest, ForgedSignatureIsRefused) {
    auto v = with_secret();
    EXPECT_EQ(error_of(v->verify(hs256(kHs256Header, body(), "another-secret-of-at-least-32-bytes!!"), kNow)),
              TokenError::bad_signature);
    // The claims changed after signing: the signature no longer covers them.
    auto token = hs256(kHs256Header, body(), kSecret);
    const auto first = token.find('.'), second = token.find('.', first + 1);
    token.replace(first + 1, second - first - 1, b64url(body(R"("topics":["*.*"])")));
    EXPECT_EQ(error_of(v->verify(token, kNow)), TokenError::bad_signature);
}

TEST_F(TokenVerifierTest, AlgNoneIsAlwaysRefused) {
    const std::string unsigned_token = b64url(R"({"alg":"none"})") + "." + b64url(body()) + ".";
    EXPECT_EQ(error_of(with_secret()->verify(unsigned_token, kNow)), TokenError::alg_not_allowed);
    EXPECT_EQ(error_of(with_public_key()->verify(unsigned_token, kNow)), TokenError::alg_not_allowed);
}

TEST_F(TokenVerifierTest, Hs256SignedWithThePublicKeyIsRefused) {
    // Algorithm confusion: the attacker knows the PEM public key and "signs" with it as an HMAC
    // secret. libjwt 1.10 would verify that with the header's alg; the key is for ES256 only.
    auto v = with_public_key();
    EXPECT_EQ(error_of(v->verify(hs256(kHs256Header, body(), ec.public_pem), kNow)), TokenError::alg_not_allowed);
    EXPECT_EQ(error_of(v->verify(hs256(R"({"alg":"HS256","kid":"main"})", body(), ec.public_pem), kNow)),
              TokenError::alg_not_allowed);
}

TEST_F(TokenVerifierTest, Es256TokenVerifiesWithItsKey) {
    auto r = with_public_key()->verify(es256(ec, body()), kNow);
    ASSERT_TRUE(std::holds_alternative<TokenClaims>(r)) << token_error_message(std::get<TokenError>(r));
    EXPECT_EQ(std::get<TokenClaims>(r).sub, "alice");
}

TEST_F(TokenVerifierTest, Es256FromAnotherKeyIsRefused) {
    EXPECT_EQ(error_of(with_public_key()->verify(es256(make_ec_key(), body()), kNow)), TokenError::bad_signature);
}

TEST_F(TokenVerifierTest, KidSelectsAmongPublicKeys) {
    const auto other = make_ec_key();
    KeySettings s;
    s.public_key_files = {dir.write("a.pem", ec.public_pem), "second=" + dir.write("b.pem", other.public_pem)};
    auto v = load(s);
    EXPECT_TRUE(std::holds_alternative<TokenClaims>(v->verify(es256(ec, body(), "a"), kNow)));
    EXPECT_TRUE(std::holds_alternative<TokenClaims>(v->verify(es256(other, body(), "second"), kNow)));
    EXPECT_EQ(error_of(v->verify(es256(other, body(), "a"), kNow)), TokenError::bad_signature);
    EXPECT_EQ(error_of(v->verify(es256(ec, body(), "nobody"), kNow)), TokenError::unknown_kid);
    EXPECT_EQ(error_of(v->verify(es256(ec, body()), kNow)), TokenError::unknown_kid);  // two keys: kid required
}

TEST_F(TokenVerifierTest, UnknownKidIsRefusedWithASingleKey) {
    EXPECT_EQ(error_of(with_public_key()->verify(es256(ec, body(), "rotated-out"), kNow)), TokenError::unknown_kid);
}

TEST_F(TokenVerifierTest, TimeClaimsHaveThirtySecondsOfLeeway) {
    auto v = with_secret();
    auto at = [&](std::string_view b) { return v->verify(hs256(kHs256Header, b, kSecret), kNow); };
    EXPECT_EQ(error_of(at(body("", kNow - 31))), TokenError::expired);
    EXPECT_TRUE(std::holds_alternative<TokenClaims>(at(body("", kNow - 29))));
    EXPECT_EQ(error_of(at(body("\"nbf\":" + std::to_string(kNow + 31)))), TokenError::not_yet_valid);
    EXPECT_TRUE(std::holds_alternative<TokenClaims>(at(body("\"nbf\":" + std::to_string(kNow + 29)))));
    EXPECT_EQ(error_of(at(body("\"iat\":" + std::to_string(kNow + 3600)))), TokenError::not_yet_valid);
}

// jwt_fuzz found these: the casts to int64_t were undefined, and "nbf":1e300 was accepted.
TEST_F(TokenVerifierTest, TimeClaimsBeyondAnyRangeAreClampedNotCast) {
    auto v = with_secret();
    auto at = [&](std::string_view b) { return v->verify(hs256(kHs256Header, b, kSecret), kNow); };
    EXPECT_EQ(error_of(at(body("\"nbf\":1e300"))), TokenError::not_yet_valid);
    EXPECT_EQ(error_of(at(body("\"iat\":1e300"))), TokenError::not_yet_valid);
    EXPECT_EQ(error_of(at(R"({"sub":"alice","exp":-1e300})")), TokenError::expired);
    EXPECT_TRUE(std::holds_alternative<TokenClaims>(at(body("\"nbf\":-1e300"))));
    for (const char* exp : {"1e300", "1e12", "9223372036854775807"}) {
        const auto r = at(std::string(R"({"sub":"alice","exp":)") + exp + "}");
        ASSERT_TRUE(std::holds_alternative<TokenClaims>(r)) << exp;
        const auto& claims = std::get<TokenClaims>(r);
        EXPECT_GT(claims.exp, kNow + 100LL * 365 * 86400) << exp;  // "never" within this process's life
        EXPECT_LE(claims.exp, 9'000'000'000LL) << exp;             // so exp * 1e9 (ns) cannot overflow
    }
}

// A lone surrogate escape decodes to bytes that are not UTF-8; sub would carry them into chat's
// "from". (libjwt's JSON parser refuses the body already; read_claims checks again.)
TEST_F(TokenVerifierTest, ASubThatIsNotUnicodeIsRefused) {
    auto v = with_secret();
    const std::string b = R"({"sub":"al\udc00ice","exp":)" + std::to_string(kNow + 60) + "}";
    EXPECT_FALSE(std::holds_alternative<TokenClaims>(v->verify(hs256(kHs256Header, b, kSecret), kNow)));
}

TEST_F(TokenVerifierTest, SubAndExpAreRequired) {
    auto v = with_secret();
    EXPECT_EQ(error_of(v->verify(hs256(kHs256Header, R"({"sub":"alice"})", kSecret), kNow)), TokenError::missing_claim);
    EXPECT_EQ(error_of(v->verify(hs256(kHs256Header, R"({"exp":1900000600})", kSecret), kNow)),
              TokenError::missing_claim);
}

TEST_F(TokenVerifierTest, ReservedSubjectsAreRefused) {
    auto v = with_secret();
    for (const char* sub : {"admin", "anon:1", "anon:"}) {
        const std::string b = std::string("{\"sub\":\"") + sub + "\",\"exp\":" + std::to_string(kNow + 60) + "}";
        EXPECT_EQ(error_of(v->verify(hs256(kHs256Header, b, kSecret), kNow)), TokenError::reserved_subject) << sub;
    }
}

TEST_F(TokenVerifierTest, AudienceAndIssuerAreCheckedWhenSet) {
    KeySettings s;
    s.secret_file = dir.write("secret", kSecret);
    s.audience = "tickgate";
    s.issuer = "https://auth.example";
    auto v = load(s);
    auto verify = [&](std::string_view extra) { return v->verify(hs256(kHs256Header, body(extra), kSecret), kNow); };
    EXPECT_TRUE(std::holds_alternative<TokenClaims>(verify(R"("aud":"tickgate","iss":"https://auth.example")")));
    EXPECT_TRUE(std::holds_alternative<TokenClaims>(verify(R"("aud":["x","tickgate"],"iss":"https://auth.example")")));
    EXPECT_EQ(error_of(verify(R"("aud":"other","iss":"https://auth.example")")), TokenError::wrong_audience);
    EXPECT_EQ(error_of(verify(R"("iss":"https://auth.example")")), TokenError::wrong_audience);
    EXPECT_EQ(error_of(verify(R"("aud":"tickgate","iss":"https://evil.example")")), TokenError::wrong_issuer);
}

TEST_F(TokenVerifierTest, HugeTokenIsRefusedBeforeDecoding) {
    auto v = with_secret();
    const std::string padding(64 * 1024, 'x');
    EXPECT_EQ(error_of(v->verify(hs256(kHs256Header, body("\"pad\":\"" + padding + "\""), kSecret), kNow)),
              TokenError::too_large);
}

TEST_F(TokenVerifierTest, TopicsClaimMustBeValidEntries) {
    auto v = with_secret();
    EXPECT_EQ(error_of(v->verify(hs256(kHs256Header, body(R"("topics":"ticker.*")"), kSecret), kNow)),
              TokenError::malformed);
    EXPECT_EQ(error_of(v->verify(hs256(kHs256Header, body(R"("topics":["not a topic"])"), kSecret), kNow)),
              TokenError::malformed);
}

TEST_F(TokenVerifierTest, GarbageIsMalformed) {
    auto v = with_secret();
    EXPECT_EQ(error_of(v->verify("", kNow)), TokenError::malformed);
    EXPECT_EQ(error_of(v->verify("not-a-jwt", kNow)), TokenError::malformed);
    EXPECT_EQ(error_of(v->verify("e30.e30.", kNow)), TokenError::malformed);  // {} header: no alg
}

TEST_F(TokenVerifierTest, OnlyTheCompactSerializationIsAToken) {
    auto v = with_secret();
    const auto token = hs256(kHs256Header, body(), kSecret);
    ASSERT_TRUE(std::holds_alternative<TokenClaims>(v->verify(token, kNow)));
    // libjwt reads a C string: a NUL must not end the token early (jwt_fuzz found this one).
    EXPECT_EQ(error_of(v->verify(token + std::string("\0.", 2), kNow)), TokenError::malformed);
    EXPECT_EQ(error_of(v->verify(token + std::string(1, '\0') + "anything", kNow)), TokenError::malformed);
    EXPECT_EQ(error_of(v->verify(token + ".", kNow)), TokenError::malformed);      // a fourth part
    EXPECT_EQ(error_of(v->verify(token + "=", kNow)), TokenError::malformed);      // padding
    EXPECT_EQ(error_of(v->verify(" " + token, kNow)), TokenError::malformed);
    std::string std_alphabet = token;  // base64's '+', which base64url does not have
    std_alphabet[std_alphabet.rfind('.') + 1] = '+';
    EXPECT_EQ(error_of(v->verify(std_alphabet, kNow)), TokenError::malformed);
}

TEST_F(TokenVerifierTest, AVerifiedTokenStillExpires) {
    auto v = with_public_key();
    const auto token = es256(ec, body("", kNow + 60));
    ASSERT_TRUE(std::holds_alternative<TokenClaims>(v->verify(token, kNow)));
    EXPECT_TRUE(std::holds_alternative<TokenClaims>(v->verify(token, kNow + 60)));  // within the leeway
    EXPECT_EQ(error_of(v->verify(token, kNow + 91)), TokenError::expired);
}

TEST_F(TokenVerifierTest, ARefusedTokenIsRefusedEveryTime) {
    auto v = with_public_key();
    const auto forged = es256(make_ec_key(), body());
    for (int i = 0; i < 3; ++i) EXPECT_EQ(error_of(v->verify(forged, kNow)), TokenError::bad_signature);
    // A token of the future, once refused, is accepted when its time comes: failures are not remembered.
    const auto later = es256(ec, body("\"nbf\":" + std::to_string(kNow + 100)));
    EXPECT_EQ(error_of(v->verify(later, kNow)), TokenError::not_yet_valid);
    EXPECT_TRUE(std::holds_alternative<TokenClaims>(v->verify(later, kNow + 100)));
}

TEST_F(TokenVerifierTest, AnotherVerifierDoesNotTrustWhatThisOneVerified) {
    // A SIGHUP that replaces the key: the new verifier has verified nothing yet.
    const auto token = es256(ec, body());
    ASSERT_TRUE(std::holds_alternative<TokenClaims>(with_public_key()->verify(token, kNow)));
    KeySettings s;
    s.public_key_files = {dir.write("main.pem", make_ec_key().public_pem)};
    EXPECT_EQ(error_of(load(s)->verify(token, kNow)), TokenError::bad_signature);
}

TEST_F(TokenVerifierTest, LoadRefusesUnusableKeys) {
    std::string error;
    KeySettings s;
    s.secret_file = dir.write("short", "too-short");
    EXPECT_FALSE(TokenVerifier::load(s, error));
    EXPECT_NE(error.find("32 bytes"), std::string::npos);
    KeySettings p;
    p.public_key_files = {dir.write("bad.pem", "not a key")};
    EXPECT_FALSE(TokenVerifier::load(p, error));
    EXPECT_NE(error.find("PEM"), std::string::npos);
    KeySettings missing;
    missing.secret_file = "/nonexistent/secret";
    EXPECT_FALSE(TokenVerifier::load(missing, error));
}

}  // namespace
}  // namespace tickgate::gateway::auth
