#pragma once
// Certificates for the TLS tests, with the OpenSSL API: inspect a PEM certificate and key, and
// write self-signed ECDSA P-256 certificates (valid or already expired).

#include <ctime>
#include <optional>
#include <string>
#include <vector>

namespace e2e {

struct CertInfo {
    std::string key_type;     // "EC", "RSA", ...
    std::string curve;        // "prime256v1" for P-256
    std::vector<std::string> dns_names, ip_addresses;  // subjectAltName entries
    std::time_t not_before = 0, not_after = 0;
    std::string sha256;       // fingerprint of the DER, lower-case hex
    std::string subject;      // one-line subject
};

/// Parses the first certificate of a PEM file; nullopt when it does not parse.
std::optional<CertInfo> read_certificate(const std::string& pem_path);
/// Same, from PEM text.
std::optional<CertInfo> parse_certificate_pem(const std::string& pem);
/// True when the PEM key file parses and matches the certificate.
bool key_matches_certificate(const std::string& key_path, const std::string& cert_path);

/// Writes a self-signed ECDSA P-256 certificate for localhost/127.0.0.1 valid from now+from_s to
/// now+to_s seconds (negative: in the past) and its key. Returns the certificate's fingerprint.
std::string write_self_signed(const std::string& cert_path, const std::string& key_path, long from_s, long to_s,
                              const std::string& common_name = "localhost");

}  // namespace e2e
