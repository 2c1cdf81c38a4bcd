#include "gateway/tls_record_sealer.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>

#include <cstring>
#include <new>

namespace tickgate::gateway {
namespace {

struct CipherSpec {
    const char* aead;    // EVP cipher name
    const char* digest;  // the suite's hash, HKDF's
    std::size_t secret_length;  // the hash's output
    std::size_t key_length;
};

const CipherSpec& spec_of(RecordCipher cipher) {
    static const CipherSpec specs[] = {
        {"", "", 0, 0},
        {"AES-128-GCM", "SHA256", 32, 16},
        {"AES-256-GCM", "SHA384", 48, 32},
        {"ChaCha20-Poly1305", "SHA256", 32, 32},
    };
    return specs[static_cast<std::size_t>(cipher)];
}

/// RFC 8446 §7.1: HKDF-Expand-Label(Secret, Label, "", Length).
bool expand_label(const CipherSpec& spec, std::string_view secret, std::string_view label, unsigned char* out,
                  std::size_t length) noexcept {
    // One HKDF context per thread and hash, its digest set once: fetching the digest by name on
    // every derivation was most of the ~7 us the two derivations of a connection cost.
    struct Contexts {
        EVP_KDF_CTX* sha256 = nullptr;
        EVP_KDF_CTX* sha384 = nullptr;
        ~Contexts() {
            EVP_KDF_CTX_free(sha256);
            EVP_KDF_CTX_free(sha384);
        }
    };
    static EVP_KDF* hkdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
    if (!hkdf) return false;
    thread_local Contexts contexts;
    EVP_KDF_CTX*& kdf = spec.secret_length == 48 ? contexts.sha384 : contexts.sha256;
    if (!kdf) {
        kdf = EVP_KDF_CTX_new(hkdf);
        int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
        const OSSL_PARAM setup[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(spec.digest), 0),
            OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
            OSSL_PARAM_construct_end(),
        };
        if (kdf && EVP_KDF_CTX_set_params(kdf, setup) != 1) {
            EVP_KDF_CTX_free(kdf);
            kdf = nullptr;
        }
        if (!kdf) return false;
    }
    // struct { uint16 length; opaque label<7..255> = "tls13 " + Label; opaque context<0..255> = ""; }
    unsigned char info[2 + 1 + 6 + 32 + 1];
    std::size_t at = 0;
    info[at++] = static_cast<unsigned char>(length >> 8);
    info[at++] = static_cast<unsigned char>(length);
    info[at++] = static_cast<unsigned char>(6 + label.size());
    std::memcpy(info + at, "tls13 ", 6);
    at += 6;
    std::memcpy(info + at, label.data(), label.size());
    at += label.size();
    info[at++] = 0;
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<char*>(secret.data()), secret.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, at),
        OSSL_PARAM_construct_end(),
    };
    return EVP_KDF_derive(kdf, out, length, params) == 1;
}

/// One cipher context per AEAD and thread, keyed again for every record: setting a key costs
/// ~0.15 us (AES key schedule, GHASH table), a context per connection ~1 KiB of memory.
EVP_CIPHER_CTX* thread_context(RecordCipher cipher) noexcept {
    struct Contexts {
        EVP_CIPHER_CTX* by_cipher[4] = {};
        ~Contexts() {
            for (EVP_CIPHER_CTX* c : by_cipher) EVP_CIPHER_CTX_free(c);
        }
    };
    static EVP_CIPHER* const fetched[4] = {
        nullptr,
        EVP_CIPHER_fetch(nullptr, spec_of(RecordCipher::aes_128_gcm).aead, nullptr),
        EVP_CIPHER_fetch(nullptr, spec_of(RecordCipher::aes_256_gcm).aead, nullptr),
        EVP_CIPHER_fetch(nullptr, spec_of(RecordCipher::chacha20_poly1305).aead, nullptr),
    };
    thread_local Contexts contexts;
    const auto index = static_cast<std::size_t>(cipher);
    EVP_CIPHER_CTX*& ctx = contexts.by_cipher[index];
    if (!ctx && fetched[index]) {
        ctx = EVP_CIPHER_CTX_new();
        if (ctx && EVP_EncryptInit_ex(ctx, fetched[index], nullptr, nullptr, nullptr) != 1) {
            EVP_CIPHER_CTX_free(ctx);
            ctx = nullptr;
        }
    }
    return ctx;
}

}  // namespace

TlsRecordSealer::~TlsRecordSealer() {
    OPENSSL_cleanse(key_.data(), key_.size());
    OPENSSL_cleanse(iv_.data(), iv_.size());
}

RecordCipher record_cipher_of_suite(std::uint32_t id) noexcept {
    switch (id) {
    case TLS1_3_CK_AES_128_GCM_SHA256: return RecordCipher::aes_128_gcm;
    case TLS1_3_CK_AES_256_GCM_SHA384: return RecordCipher::aes_256_gcm;
    case TLS1_3_CK_CHACHA20_POLY1305_SHA256: return RecordCipher::chacha20_poly1305;
    default: return RecordCipher::none;
    }
}

bool TlsRecordSealer::set_secret(RecordCipher cipher, std::string_view secret) noexcept {
    cipher_ = RecordCipher::none;
    if (cipher == RecordCipher::none || !thread_context(cipher)) return false;
    const CipherSpec& spec = spec_of(cipher);
    if (secret.size() != spec.secret_length) return false;
    if (!expand_label(spec, secret, "key", key_.data(), spec.key_length) ||
        !expand_label(spec, secret, "iv", iv_.data(), iv_.size()))
        return false;
    cipher_ = cipher;
    sequence_ = 0;
    return true;
}

bool TlsRecordSealer::seal(std::uint8_t content_type, const void* data, std::size_t size, std::string& out) noexcept {
    if (cipher_ == RecordCipher::none) return false;
    EVP_CIPHER_CTX* ctx = thread_context(cipher_);
    if (!ctx) return false;
    const std::size_t start = out.size();
    const std::uint64_t first_sequence = sequence_;
    const auto* plaintext = static_cast<const unsigned char*>(data);
    do {
        const std::size_t fragment = size < kMaxFragment ? size : kMaxFragment;
        const std::size_t length = fragment + 1 + 16;  // TLSInnerPlaintext's type byte, the tag
        const std::size_t at = out.size();
        try {
            out.resize(at + 5 + length);
        } catch (const std::bad_alloc&) {
            out.resize(start);
            sequence_ = first_sequence;
            return false;
        }
        auto* record = reinterpret_cast<unsigned char*>(out.data() + at);
        // The outer header is also the AEAD's additional data (RFC 8446 §5.2).
        record[0] = kContentApplicationData;
        record[1] = 0x03;
        record[2] = 0x03;
        record[3] = static_cast<unsigned char>(length >> 8);
        record[4] = static_cast<unsigned char>(length);
        // The nonce: the record number, big-endian and left-padded to the IV's length, XOR the IV.
        unsigned char nonce[12];
        std::memcpy(nonce, iv_.data(), sizeof nonce);
        for (int i = 0; i < 8; ++i) nonce[11 - i] ^= static_cast<unsigned char>(sequence_ >> (8 * i));
        int n = 0;
        unsigned char* body = record + 5;
        const bool ok = EVP_EncryptInit_ex(ctx, nullptr, nullptr, key_.data(), nonce) == 1 &&
                        EVP_EncryptUpdate(ctx, nullptr, &n, record, 5) == 1 &&
                        EVP_EncryptUpdate(ctx, body, &n, plaintext, static_cast<int>(fragment)) == 1 &&
                        EVP_EncryptUpdate(ctx, body + fragment, &n, &content_type, 1) == 1 &&
                        EVP_EncryptFinal_ex(ctx, body + fragment + 1, &n) == 1 &&
                        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, body + fragment + 1) == 1;
        if (!ok) {
            out.resize(start);
            sequence_ = first_sequence;
            return false;
        }
        ++sequence_;
        plaintext += fragment;
        size -= fragment;
    } while (size > 0);
    return true;
}

}  // namespace tickgate::gateway
