#pragma once
// JWT verification (RFC 7519) for the gateway's access control: the configured keys, the checks
// on the header and the claims, and what a verified token grants. libjwt does the JOSE work
// (token_verifier.cpp); this header names neither it nor Beast.
//
// A TokenVerifier's keys are fixed once loaded: any thread may verify with it. SIGHUP loads a new
// one (with an empty cache).

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

namespace tickgate::gateway::auth {

/// Tokens longer than this are refused before any decoding (431/414/1009 on the wire).
inline constexpr std::size_t kMaxTokenBytes = 8 * 1024;
/// Leeway on exp, nbf and iat: clocks of issuer and gateway disagree by a little.
inline constexpr std::int64_t kLeewaySeconds = 30;

struct KeySettings {
    std::string secret_file;                    // HS256/384/512; trailing whitespace of the file is not part of it
    std::vector<std::string> public_key_files;  // "[KID=]FILE", PEM; kid defaults to the file name without extension
    std::string audience;                       // checked when not empty
    std::string issuer;                         // checked when not empty

    bool enabled() const noexcept { return !secret_file.empty() || !public_key_files.empty(); }
};

/// What a verified token grants.
struct TokenClaims {
    std::string sub;
    std::int64_t exp = 0;                              // seconds since the epoch
    std::optional<std::vector<std::string>> topics;   // nullopt: every topic
    std::vector<std::string> publish;                 // absent: none (kept for publishing)
};

enum class TokenError {
    too_large,
    malformed,        // not three base64url JSON parts, or a claim of the wrong type
    alg_not_allowed,  // none, or an algorithm no configured key is for (algorithm confusion)
    unknown_kid,
    bad_signature,
    expired,
    not_yet_valid,  // nbf or iat in the future
    missing_claim,  // sub or exp
    wrong_audience,
    wrong_issuer,
    reserved_subject,  // "admin", "anon:*"
};

/// A short English sentence for the client's error message; never contains the token.
std::string_view token_error_message(TokenError error) noexcept;

class TokenVerifier {
public:
    /// Reads the key files. Null with `error` set when a file is unreadable or not a usable key.
    static std::shared_ptr<const TokenVerifier> load(const KeySettings& settings, std::string& error);
    ~TokenVerifier();

    /// Thread-safe. A token that verified before (the same bytes, with these keys) is not verified
    /// again: libjwt 1.10 parses the PEM key per call, most of an ES256 check's ~400 us, and a
    /// reconnecting client brings the same token. Only its exp is checked again.
    std::variant<TokenClaims, TokenError> verify(std::string_view token, std::int64_t now_s) const;
    /// Algorithms the keys are for ("HS256", "ES256", ...), for the start-up log.
    std::string describe() const;

    struct Key;

private:
    TokenVerifier() = default;
    std::variant<TokenClaims, TokenError> verify_uncached(std::string_view token, std::int64_t now_s) const;

    std::vector<Key> keys_;
    std::string audience_, issuer_;
    mutable std::mutex cache_mutex_;
    mutable std::unordered_map<std::string, TokenClaims> verified_;  // SHA-256 of the token -> its claims
};

}  // namespace tickgate::gateway::auth
