#pragma once
// TLS set-up: the self-signed certificate used when no --cert/--key is given, and the server
// context (TLS 1.2 and 1.3 only).

#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace tickgate::gateway {

/// Makes sure `dir`/cert.pem and `dir`/key.pem hold a valid self-signed ECDSA P-256 certificate for
/// localhost and 127.0.0.1 (valid one year): reuses one that is still valid for a day, else
/// generates a new one. Returns false with a one-line error.
bool ensure_self_signed_certificate(const std::string& dir, std::string& cert_path, std::string& key_path,
                                    std::string& error);

/// Loads a certificate chain and key into a fresh server context. Returns null with a one-line error.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const std::string& cert_path, const std::string& key_path,
                                                            std::string& error);

}  // namespace tickgate::gateway
