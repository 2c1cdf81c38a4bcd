#pragma once
// The operator API's bearer key (--admin-key-file). Only its SHA-256 is kept, and a presented key
// is compared with it digest to digest in constant time (CRYPTO_memcmp on equal lengths), so the
// time a refusal takes tells nothing about the key's bytes or its length.

#include <array>
#include <mutex>
#include <string>
#include <string_view>

#include "gateway/reloads.hpp"

namespace tickgate::gateway::admin {

/// Shorter keys can be guessed; `openssl rand -hex 32` makes a good one.
inline constexpr std::size_t kMinKeyBytes = 16;

class AdminKey {
public:
    explicit AdminKey(std::string path) : path_(std::move(path)) {}

    /// At start: false with a one-line error when the file cannot be read, or holds fewer than
    /// kMinKeyBytes bytes (trailing whitespace, a final newline say, is not part of the key).
    bool load(std::string& error);
    /// SIGHUP: reads the file again; a bad file keeps the current key, and says why in the log.
    ReloadResult reload();
    /// Any thread: whether `presented` is the key.
    bool matches(std::string_view presented) const;

private:
    using Digest = std::array<unsigned char, 32>;
    bool read(Digest& digest, std::string& error) const;

    std::string path_;
    mutable std::mutex mutex_;
    Digest digest_{};
    bool loaded_ = false;
};

}  // namespace tickgate::gateway::admin
