#include "gateway/tls.hpp"
#include "gateway/tls_socket.hpp"

#include <boost/asio/ssl/context.hpp>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>

namespace tickgate::gateway {
namespace {

std::string openssl_error() {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    return buf;
}

struct FileCloser {
    void operator()(FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;

/// True when the certificate at `path` parses and stays valid for at least another day.
bool certificate_still_valid(const std::string& path) {
    File f(std::fopen(path.c_str(), "r"));
    if (!f) return false;
    std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_X509(f.get(), nullptr, nullptr, nullptr), X509_free);
    if (!cert) return false;
    time_t tomorrow = time(nullptr) + 24 * 3600;
    return X509_cmp_time(X509_get0_notAfter(cert.get()), &tomorrow) > 0;
}

bool generate(const std::string& cert_path, const std::string& key_path, std::string& error) {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
    if (!key) return error = "cannot generate an EC key: " + openssl_error(), false;
    std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(time(nullptr)));
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("tickgate self-signed"),
                               -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
    for (auto [nid, value] : {std::pair{NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1"},
                              std::pair{NID_basic_constraints, "critical,CA:FALSE"},
                              std::pair{NID_ext_key_usage, "serverAuth"}}) {
        X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
        if (!ext) return error = "cannot build certificate extension: " + openssl_error(), false;
        X509_add_ext(cert.get(), ext, -1);
        X509_EXTENSION_free(ext);
    }
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0)
        return error = "cannot sign certificate: " + openssl_error(), false;

    // The key is written owner-only, before anything else can open it.
    const int fd = ::open(key_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    // O_CREAT's mode applies only to a new file; an old key file may have been left readable.
    if (fd >= 0 && ::fchmod(fd, 0600) != 0) {
        ::close(fd);
        return error = "cannot restrict permissions of " + key_path, false;
    }
    File key_file(fd >= 0 ? fdopen(fd, "w") : nullptr);
    if (!key_file || !PEM_write_PrivateKey(key_file.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr))
        return error = "cannot write " + key_path, false;
    File cert_file(std::fopen(cert_path.c_str(), "w"));
    if (!cert_file || !PEM_write_X509(cert_file.get(), cert.get())) return error = "cannot write " + cert_path, false;
    return true;
}

}  // namespace

bool ensure_self_signed_certificate(const std::string& dir, std::string& cert_path, std::string& key_path,
                                    std::string& error) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return error = "cannot create state directory " + dir + ": " + ec.message(), false;
    cert_path = dir + "/cert.pem";
    key_path = dir + "/key.pem";
    if (certificate_still_valid(cert_path) && std::filesystem::exists(key_path)) return true;
    return generate(cert_path, key_path, error);
}

std::shared_ptr<boost::asio::ssl::context> make_tls_context(const std::string& cert_path, const std::string& key_path,
                                                            std::string& error) {
    namespace ssl = boost::asio::ssl;
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    boost::system::error_code ec;
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                         ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                     ec);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    prepare_tls_context(ctx->native_handle());
    if (!ec) ctx->use_certificate_chain_file(cert_path, ec);
    if (ec) return error = "cannot load certificate " + cert_path + ": " + ec.message(), nullptr;
    ctx->use_private_key_file(key_path, ssl::context::pem, ec);
    if (ec) return error = "cannot load key " + key_path + ": " + ec.message(), nullptr;
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
        return error = "key " + key_path + " does not match certificate " + cert_path, nullptr;
    return ctx;
}

}  // namespace tickgate::gateway
