#include "gateway/admin/admin_key.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "feeds/runtime/log.hpp"

namespace tickgate::gateway::admin {
namespace {

constexpr std::size_t kMaxKeyFileBytes = 4096;

std::array<unsigned char, 32> sha256(std::string_view bytes) {
    std::array<unsigned char, 32> out{};
    unsigned int size = 0;
    EVP_Digest(bytes.data(), bytes.size(), out.data(), &size, EVP_sha256(), nullptr);
    return out;
}

}  // namespace

bool AdminKey::read(Digest& digest, std::string& error) const {
    std::FILE* file = std::fopen(path_.c_str(), "rb");
    if (!file) {
        error = "--admin-key-file: cannot read " + path_ + ": " + std::strerror(errno);
        return false;
    }
    std::string key;
    char chunk[1024];
    std::size_t n = 0;
    while (key.size() <= kMaxKeyFileBytes && (n = std::fread(chunk, 1, sizeof chunk, file)) > 0) key.append(chunk, n);
    const int read_error = std::ferror(file) ? errno : 0;
    std::fclose(file);
    if (read_error) {
        error = "--admin-key-file: cannot read " + path_ + ": " + std::strerror(read_error);
        return false;
    }
    if (key.size() > kMaxKeyFileBytes) {
        error = "--admin-key-file: " + path_ + " is over 4096 bytes (a key, not a key store)";
        return false;
    }
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ' || key.back() == '\t'))
        key.pop_back();
    if (key.size() < kMinKeyBytes) {
        error = "--admin-key-file: " + path_ + (key.empty() ? " is empty" : " holds fewer than 16 bytes") +
                " (make a key with: openssl rand -hex 32)";
        return false;
    }
    digest = sha256(key);
    OPENSSL_cleanse(key.data(), key.size());
    return true;
}

bool AdminKey::load(std::string& error) {
    Digest digest;
    if (!read(digest, error)) return false;
    std::lock_guard lock(mutex_);
    digest_ = digest;
    loaded_ = true;
    return true;
}

ReloadResult AdminKey::reload() {
    std::string error;
    Digest digest;
    if (!read(digest, error)) {
        TG_LOG(error, "SIGHUP: %s; keeping the current admin key", error.c_str());
        return ReloadResult::failed;
    }
    {
        std::lock_guard lock(mutex_);
        digest_ = digest;
        loaded_ = true;
    }
    TG_LOG(info, "SIGHUP: reloaded the admin key from %s", path_.c_str());
    return ReloadResult::ok;
}

bool AdminKey::matches(std::string_view presented) const {
    const Digest theirs = sha256(presented);
    std::lock_guard lock(mutex_);
    return loaded_ && CRYPTO_memcmp(theirs.data(), digest_.data(), digest_.size()) == 0;
}

}  // namespace tickgate::gateway::admin
