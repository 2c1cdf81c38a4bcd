#pragma once
// TLS 1.3 records made here instead of by SSL_write (RFC 8446 §5.2), for the WebSocket sessions'
// egress on both backends: OpenSSL keeps the handshake, the reads and every decision about the
// connection, and this only encrypts what the gateway sends, under the write key OpenSSL reports.
//
// Why: a 300-byte SSL_write costs ~0.8 us (OpenSSL 3.0 on this machine), sealing the same record
// here ~0.56 us (bench/tls_handshake_bench, RecordWriteAcross against RecordSeal), and in the
// fan-out, where each connection's SSL object is cold by its turn, the gateway's CPU per message
// fell by ~15 % (bench/README, "TLS 1.3 records sealed by the gateway"). OpenSSL walks the SSL
// object, its record layer, the write buffer it allocates and frees around every write
// (SSL_MODE_RELEASE_BUFFERS) and the BIO, where this touches one session's key and nonce and one
// cipher context shared by the thread.
//
// Per connection it holds the key, the static IV and the record number: no cipher context, so an
// idle connection costs 64 bytes more, not the ~1 KiB of an EVP_CIPHER_CTX.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tickgate::gateway {

/// The AEAD of a TLS 1.3 cipher suite; `none` for a suite this does not seal.
enum class RecordCipher : std::uint8_t { none, aes_128_gcm, aes_256_gcm, chacha20_poly1305 };

/// `id`: SSL_CIPHER_get_id() of the negotiated suite.
RecordCipher record_cipher_of_suite(std::uint32_t id) noexcept;

/// TLS 1.3 content types a sealed record carries (RFC 8446 §5.1).
inline constexpr std::uint8_t kContentAlert = 21;
inline constexpr std::uint8_t kContentHandshake = 22;
inline constexpr std::uint8_t kContentApplicationData = 23;

class TlsRecordSealer {
public:
    TlsRecordSealer() = default;
    TlsRecordSealer(const TlsRecordSealer&) = default;
    TlsRecordSealer& operator=(const TlsRecordSealer&) = default;
    ~TlsRecordSealer();  // wipes the key

    /// Largest plaintext in one record (RFC 8446 §5.1: 2^14).
    static constexpr std::size_t kMaxFragment = 16384;
    /// What a record adds to its plaintext: the header, the content type byte and the tag.
    static constexpr std::size_t kOverhead = 5 + 1 + 16;

    /// Takes a traffic secret of the connection's write side (RFC 8446 §7.1: *_traffic_secret_N)
    /// and derives its key and IV (§7.3); records under it are numbered from 0 (§5.3). False, and
    /// nothing usable, when the cipher is `none`, the secret is not the suite's hash long, or the
    /// derivation fails.
    bool set_secret(RecordCipher cipher, std::string_view secret) noexcept;
    bool ready() const noexcept { return cipher_ != RecordCipher::none; }
    /// A record under the current key was made elsewhere (by OpenSSL): ours come after it.
    void count_foreign_record() noexcept { ++sequence_; }
    std::uint64_t next_sequence() const noexcept { return sequence_; }

    /// Appends to `out` the records carrying [data, data + size) as `content_type`, each of at
    /// most kMaxFragment bytes of plaintext, with no padding. False (and `out` as it was) when
    /// encryption failed: the connection's stream cannot go on.
    bool seal(std::uint8_t content_type, const void* data, std::size_t size, std::string& out) noexcept;

private:
    std::array<unsigned char, 32> key_{};
    std::array<unsigned char, 12> iv_{};
    RecordCipher cipher_ = RecordCipher::none;
    std::uint64_t sequence_ = 0;
};

}  // namespace tickgate::gateway
