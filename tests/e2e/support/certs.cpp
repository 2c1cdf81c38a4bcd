#include "certs.hpp"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>

#include <cstdio>
#include <memory>
#include <stdexcept>

#include "gateway_process.hpp"

namespace e2e {
namespace {

template <class T, void (*F)(T*)>
struct Deleter {
    void operator()(T* p) const { F(p); }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

std::time_t asn1_to_time(const ASN1_TIME* t) {
    std::tm tm{};
    if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
    return timegm(&tm);
}

CertInfo describe(X509* cert) {
    CertInfo info;
    EVP_PKEY* key = X509_get0_pubkey(cert);
    if (key) {
        const int id = EVP_PKEY_get_base_id(key);
        info.key_type = id == EVP_PKEY_EC ? "EC" : id == EVP_PKEY_RSA ? "RSA" : OBJ_nid2sn(id);
        char group[80] = {};
        size_t len = 0;
        if (id == EVP_PKEY_EC && EVP_PKEY_get_group_name(key, group, sizeof group, &len) == 1) info.curve = group;
    }
    if (auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr))) {
        for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
            const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
            if (n->type == GEN_DNS) {
                info.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName)),
                                            static_cast<std::size_t>(ASN1_STRING_length(n->d.dNSName)));
            } else if (n->type == GEN_IPADD) {
                const int len = ASN1_STRING_length(n->d.iPAddress);
                char text[INET6_ADDRSTRLEN] = {};
                inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(n->d.iPAddress), text, sizeof text);
                info.ip_addresses.emplace_back(text);
            }
        }
        GENERAL_NAMES_free(names);
    }
    info.not_before = asn1_to_time(X509_get0_notBefore(cert));
    info.not_after = asn1_to_time(X509_get0_notAfter(cert));
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    X509_digest(cert, EVP_sha256(), md, &md_len);
    static const char* hex = "0123456789abcdef";
    for (unsigned i = 0; i < md_len; ++i) {
        info.sha256 += hex[md[i] >> 4];
        info.sha256 += hex[md[i] & 15];
    }
    char subject[256] = {};
    X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
    info.subject = subject;
    return info;
}

}  // namespace

std::optional<CertInfo> parse_certificate_pem(const std::string& pem) {
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) return std::nullopt;
    return describe(cert.get());
}

std::optional<CertInfo> read_certificate(const std::string& pem_path) { return parse_certificate_pem(read_file(pem_path)); }

bool key_matches_certificate(const std::string& key_path, const std::string& cert_path) {
    const std::string key_pem = read_file(key_path), cert_pem = read_file(cert_path);
    BioPtr kb(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
    BioPtr cb(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
    KeyPtr key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
    X509Ptr cert(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
    return key && cert && X509_check_private_key(cert.get(), key.get()) == 1;
}

std::string write_self_signed(const std::string& cert_path, const std::string& key_path, long from_s, long to_s,
                              const std::string& common_name) {
    KeyPtr key(EVP_EC_gen("P-256"));
    if (!key) throw std::runtime_error("EVP_EC_gen failed");
    X509Ptr cert(X509_new());
    X509_set_version(cert.get(), 2);
    static long serial = 1000;
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(time(nullptr)) + ++serial);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), from_s);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), to_s);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                               -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
    X509_EXTENSION* ext =
        X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, const_cast<char*>("DNS:localhost,IP:127.0.0.1"));
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) throw std::runtime_error("X509_sign failed");

    FILE* kf = std::fopen(key_path.c_str(), "w");
    if (!kf) throw std::runtime_error("cannot write " + key_path);
    PEM_write_PrivateKey(kf, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(kf);
    FILE* cf = std::fopen(cert_path.c_str(), "w");
    if (!cf) throw std::runtime_error("cannot write " + cert_path);
    PEM_write_X509(cf, cert.get());
    std::fclose(cf);
    return describe(cert.get()).sha256;
}

}  // namespace e2e
