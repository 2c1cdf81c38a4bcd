#include "gateway/auth/token_verifier.hpp"

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include "protocol/base64.hpp"
#include "protocol/topic.hpp"
#include "protocol/utf8.hpp"

namespace tickgate::gateway::auth {

struct TokenVerifier::Key {
    std::string kid;               // empty for the HMAC secret
    std::vector<jwt_alg_t> algs;   // what this key may verify: its family only
    std::string material;          // the secret, or the PEM text
};

namespace {

// Tokens remembered as verified, per verifier: the connections of a few thousand users.
constexpr std::size_t kVerifiedCacheEntries = 4096;

struct JwtFree {
    void operator()(jwt_t* j) const noexcept { jwt_free(j); }
};
struct CharFree {
    void operator()(char* p) const noexcept { std::free(p); }
};
struct PkeyFree {
    void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};

bool read_file(const std::string& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return true;
}

/// The algorithms a PEM public key is for, from its type and size: a key verifies in its own
/// family only, so an HMAC "signed" with the PEM text never reaches libjwt with this key.
std::vector<jwt_alg_t> algorithms_of_public_key(const std::string& pem, std::string& error) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    std::unique_ptr<EVP_PKEY, PkeyFree> key(PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr));
    BIO_free(bio);
    if (!key) {
        error = "not a PEM public key (-----BEGIN PUBLIC KEY-----)";
        return {};
    }
    switch (EVP_PKEY_get_base_id(key.get())) {
    case EVP_PKEY_RSA: return {JWT_ALG_RS256, JWT_ALG_RS384, JWT_ALG_RS512};
    case EVP_PKEY_EC:
        switch (EVP_PKEY_get_bits(key.get())) {
        case 256: return {JWT_ALG_ES256};
        case 384: return {JWT_ALG_ES384};
        case 521: return {JWT_ALG_ES512};
        }
        error = "an EC key on a curve JWT does not use (P-256, P-384, P-521)";
        return {};
    }
    error = "neither an RSA nor an EC key";
    return {};
}

/// "kid=path" or "path" (kid: the file name without directory and extension).
std::pair<std::string, std::string> split_kid(const std::string& spec) {
    const auto eq = spec.find('=');
    if (eq != std::string::npos && eq > 0 && spec.find('/') > eq) return {spec.substr(0, eq), spec.substr(eq + 1)};
    auto name = spec.substr(spec.find_last_of('/') + 1);
    return {name.substr(0, name.find('.')), spec};
}

// JWS compact serialization (RFC 7515 section 7.1): three base64url parts joined by two dots, and
// nothing else. libjwt reads a C string, so a NUL in the token (a ?token=...%00... or a JSON
// "\u0000") would end it early there: a signed token followed by a NUL and any bytes verified as
// the signed token alone (found by jwt_fuzz's long run), each variant a new cache entry.
bool is_compact_serialization(std::string_view token) {
    int dots = 0;
    for (const char c : token) {
        if (c == '.')
            ++dots;
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    }
    return dots == 2;
}

/// The JOSE header's alg and kid. libjwt 1.10 only reports a token's alg once it has verified it
/// with a key, and the key must be chosen by alg and kid first, so this reads the header itself:
/// base64url, then JSON.
bool read_header(std::string_view token, std::string& alg, std::string& kid) {
    const auto dot = token.find('.');
    if (dot == std::string_view::npos) return false;
    std::string b64(token.substr(0, dot));
    std::replace(b64.begin(), b64.end(), '-', '+');
    std::replace(b64.begin(), b64.end(), '_', '/');
    while (b64.size() % 4) b64 += '=';
    std::string json;
    if (!protocol::append_base64_decoded(b64, json)) return false;
    rapidjson::Document doc;
    doc.Parse(json.data(), json.size());
    if (doc.HasParseError() || !doc.IsObject()) return false;
    const auto a = doc.FindMember("alg");
    if (a == doc.MemberEnd() || !a->value.IsString()) return false;
    alg.assign(a->value.GetString(), a->value.GetStringLength());
    const auto k = doc.FindMember("kid");
    if (k != doc.MemberEnd()) {
        if (!k->value.IsString()) return false;
        kid.assign(k->value.GetString(), k->value.GetStringLength());
    }
    return true;
}

/// A claim that is a list of topic entries ("topics", "publish"): false when it is not an array
/// of valid entries.
bool read_entries(const rapidjson::Value& v, std::vector<std::string>& out) {
    if (!v.IsArray()) return false;
    for (const auto& item : v.GetArray()) {
        if (!item.IsString()) return false;
        std::string_view entry(item.GetString(), item.GetStringLength());
        if (protocol::classify_entry(entry) == protocol::EntryKind::invalid) return false;
        out.emplace_back(entry);
    }
    return true;
}

bool audience_matches(const rapidjson::Value& aud, const std::string& want) {
    if (aud.IsString()) return want == aud.GetString();
    if (!aud.IsArray()) return false;
    for (const auto& a : aud.GetArray())
        if (a.IsString() && want == a.GetString()) return true;
    return false;
}

// A NumericDate (RFC 7519 section 2) may be any JSON number, and casting one beyond int64_t's range is
// undefined. Dates are clamped to +-9e9 s (the year 2255), so that expires_at_ns() cannot overflow
// either: a later exp means "not within this process's life", a later nbf "not yet".
std::int64_t numeric_date(const rapidjson::Value& v) {
    constexpr double limit = 9e9;
    return static_cast<std::int64_t>(std::clamp(v.GetDouble(), -limit, limit));
}

std::variant<TokenClaims, TokenError> read_claims(const rapidjson::Document& body, const std::string& audience,
                                                  const std::string& issuer, std::int64_t now_s) {
    if (!body.IsObject()) return TokenError::malformed;
    TokenClaims claims;
    const auto sub = body.FindMember("sub");
    const auto exp = body.FindMember("exp");
    if (sub == body.MemberEnd() || exp == body.MemberEnd()) return TokenError::missing_claim;
    if (!sub->value.IsString() || sub->value.GetStringLength() == 0 || !exp->value.IsNumber())
        return TokenError::malformed;
    claims.sub.assign(sub->value.GetString(), sub->value.GetStringLength());
    // A lone surrogate escape decodes to bytes that are not UTF-8, and sub goes into chat's "from".
    if (!protocol::is_valid_utf8(claims.sub)) return TokenError::malformed;
    if (claims.sub == "admin" || claims.sub.starts_with("anon:")) return TokenError::reserved_subject;
    claims.exp = numeric_date(exp->value);
    if (claims.exp + kLeewaySeconds <= now_s) return TokenError::expired;
    for (const char* name : {"nbf", "iat"}) {
        const auto t = body.FindMember(name);
        if (t == body.MemberEnd()) continue;
        if (!t->value.IsNumber()) return TokenError::malformed;
        if (numeric_date(t->value) > now_s + kLeewaySeconds) return TokenError::not_yet_valid;
    }
    if (!audience.empty()) {
        const auto aud = body.FindMember("aud");
        if (aud == body.MemberEnd() || !audience_matches(aud->value, audience)) return TokenError::wrong_audience;
    }
    if (!issuer.empty()) {
        const auto iss = body.FindMember("iss");
        if (iss == body.MemberEnd() || !iss->value.IsString() || issuer != iss->value.GetString())
            return TokenError::wrong_issuer;
    }
    if (const auto topics = body.FindMember("topics"); topics != body.MemberEnd()) {
        claims.topics.emplace();
        if (!read_entries(topics->value, *claims.topics)) return TokenError::malformed;
    }
    if (const auto publish = body.FindMember("publish"); publish != body.MemberEnd())
        if (!read_entries(publish->value, claims.publish)) return TokenError::malformed;
    return claims;
}

}  // namespace

std::string_view token_error_message(TokenError error) noexcept {
    switch (error) {
    case TokenError::too_large: return "token longer than 8192 bytes";
    case TokenError::malformed: return "token is not a well-formed JWT";
    case TokenError::alg_not_allowed: return "token alg is not one the gateway's keys are for";
    case TokenError::unknown_kid: return "token kid names no configured key";
    case TokenError::bad_signature: return "token signature does not verify";
    case TokenError::expired: return "token expired";
    case TokenError::not_yet_valid: return "token not valid yet (nbf or iat in the future)";
    case TokenError::missing_claim: return "token lacks sub or exp";
    case TokenError::wrong_audience: return "token aud does not name this gateway";
    case TokenError::wrong_issuer: return "token iss is not the configured issuer";
    case TokenError::reserved_subject: return "token sub is reserved";
    }
    return "invalid token";
}

TokenVerifier::~TokenVerifier() = default;

std::shared_ptr<const TokenVerifier> TokenVerifier::load(const KeySettings& settings, std::string& error) {
    std::shared_ptr<TokenVerifier> v(new TokenVerifier());
    v->audience_ = settings.audience;
    v->issuer_ = settings.issuer;
    if (!settings.secret_file.empty()) {
        Key key;
        if (!read_file(settings.secret_file, key.material)) {
            error = "--jwt-secret-file " + settings.secret_file + ": cannot read it";
            return nullptr;
        }
        while (!key.material.empty() && std::isspace(static_cast<unsigned char>(key.material.back())))
            key.material.pop_back();
        // RFC 7518 §3.2: an HMAC key at least as long as the hash output.
        if (key.material.size() < 32) {
            error = "--jwt-secret-file " + settings.secret_file + ": the secret must be at least 32 bytes";
            return nullptr;
        }
        key.algs = {JWT_ALG_HS256, JWT_ALG_HS384, JWT_ALG_HS512};
        v->keys_.push_back(std::move(key));
    }
    for (const auto& spec : settings.public_key_files) {
        auto [kid, path] = split_kid(spec);
        Key key;
        key.kid = std::move(kid);
        if (!read_file(path, key.material)) {
            error = "--jwt-public-key-file " + path + ": cannot read it";
            return nullptr;
        }
        std::string why;
        key.algs = algorithms_of_public_key(key.material, why);
        if (key.algs.empty()) {
            error = "--jwt-public-key-file " + path + ": " + why;
            return nullptr;
        }
        for (const auto& other : v->keys_)
            if (!other.kid.empty() && other.kid == key.kid) {
                error = "--jwt-public-key-file " + path + ": kid '" + key.kid + "' is used twice";
                return nullptr;
            }
        v->keys_.push_back(std::move(key));
    }
    return v;
}

std::string TokenVerifier::describe() const {
    std::string out;
    for (const auto& key : keys_) {
        if (!out.empty()) out += ", ";
        out += key.kid.empty() ? "secret" : "kid " + key.kid;
        out += " (";
        for (std::size_t i = 0; i < key.algs.size(); ++i) {
            if (i) out += '/';
            out += jwt_alg_str(key.algs[i]);
        }
        out += ')';
    }
    return out;
}

std::variant<TokenClaims, TokenError> TokenVerifier::verify(std::string_view token, std::int64_t now_s) const {
    if (token.size() > kMaxTokenBytes) return TokenError::too_large;
    if (!is_compact_serialization(token)) return TokenError::malformed;
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
    std::string key(reinterpret_cast<const char*>(digest), sizeof digest);
    {
        std::lock_guard lock(cache_mutex_);
        if (const auto it = verified_.find(key); it != verified_.end()) {
            // Everything but the time has been checked against these keys and settings; nbf and
            // iat were in the past then, so they still are.
            if (it->second.exp + kLeewaySeconds <= now_s) return TokenError::expired;
            return it->second;
        }
    }
    auto result = verify_uncached(token, now_s);
    if (const auto* claims = std::get_if<TokenClaims>(&result)) {
        std::lock_guard lock(cache_mutex_);
        // Bounded simply: a full cache starts again (verifying costs what it did without one).
        if (verified_.size() >= kVerifiedCacheEntries) verified_.clear();
        verified_.emplace(std::move(key), *claims);
    }
    return result;
}

std::variant<TokenClaims, TokenError> TokenVerifier::verify_uncached(std::string_view token, std::int64_t now_s) const {
    std::string alg_name, kid;
    if (!read_header(token, alg_name, kid)) return TokenError::malformed;
    const jwt_alg_t alg = jwt_str_alg(alg_name.c_str());
    if (alg == JWT_ALG_NONE || alg == JWT_ALG_INVAL) return TokenError::alg_not_allowed;
    const bool hmac = alg == JWT_ALG_HS256 || alg == JWT_ALG_HS384 || alg == JWT_ALG_HS512;
    const Key* chosen = nullptr;
    if (hmac) {
        // The secret has no kid; a kid on an HMAC token does not choose among public keys.
        for (const auto& key : keys_)
            if (key.kid.empty()) chosen = &key;
        if (!chosen) return TokenError::alg_not_allowed;
    } else {
        std::vector<const Key*> public_keys;
        for (const auto& key : keys_)
            if (!key.kid.empty()) public_keys.push_back(&key);
        if (!kid.empty()) {
            for (const Key* key : public_keys)
                if (key->kid == kid) chosen = key;
            if (!chosen) return TokenError::unknown_kid;
        } else if (public_keys.size() == 1) {
            chosen = public_keys.front();
        } else {
            return public_keys.empty() ? TokenError::alg_not_allowed : TokenError::unknown_kid;
        }
    }
    // The check libjwt 1.10 does not make: it verifies with the header's alg, whatever the key is for.
    if (std::find(chosen->algs.begin(), chosen->algs.end(), alg) == chosen->algs.end())
        return TokenError::alg_not_allowed;
    const std::string terminated(token);
    jwt_t* raw = nullptr;
    const int rc = jwt_decode(&raw, terminated.c_str(), reinterpret_cast<const unsigned char*>(chosen->material.data()),
                              static_cast<int>(chosen->material.size()));
    std::unique_ptr<jwt_t, JwtFree> jwt(raw);
    if (rc != 0 || !jwt) return TokenError::bad_signature;
    // Belt and braces: what libjwt verified with must be what was checked above.
    if (jwt_get_alg(jwt.get()) != alg) return TokenError::alg_not_allowed;
    std::unique_ptr<char, CharFree> body_json(jwt_get_grants_json(jwt.get(), nullptr));
    if (!body_json) return TokenError::malformed;
    rapidjson::Document body;
    body.Parse(body_json.get());
    if (body.HasParseError()) return TokenError::malformed;
    return read_claims(body, audience_, issuer_, now_s);
}

}  // namespace tickgate::gateway::auth
