#include "gateway/tls_context_store.hpp"

#include <boost/asio/ssl/context.hpp>

#include "feeds/runtime/log.hpp"
#include "gateway/tls.hpp"

namespace tickgate::gateway {

bool TlsContextStore::load(std::string& error) {
    if (config_.no_tls) return true;
    if (config_.cert_file.empty()) {
        if (!ensure_self_signed_certificate(config_.state_dir, cert_path_, key_path_, error)) return false;
        TG_LOG(info, "using self-signed certificate %s", cert_path_.c_str());
    } else {
        cert_path_ = config_.cert_file;
        key_path_ = config_.key_file;
    }
    auto context = make_tls_context(cert_path_, key_path_, error);
    if (!context) return false;
    std::lock_guard lock(mutex_);
    context_ = std::move(context);
    return true;
}

ReloadResult TlsContextStore::reload() {
    if (config_.no_tls) return ReloadResult::not_configured;
    std::string error;
    // A generated certificate is regenerated here when it has expired.
    if (config_.cert_file.empty() && !ensure_self_signed_certificate(config_.state_dir, cert_path_, key_path_, error)) {
        TG_LOG(error, "SIGHUP: %s; keeping the current certificate", error.c_str());
        return ReloadResult::failed;
    }
    auto context = make_tls_context(cert_path_, key_path_, error);
    if (!context) {
        TG_LOG(error, "SIGHUP: %s; keeping the current certificate", error.c_str());
        return ReloadResult::failed;
    }
    {
        std::lock_guard lock(mutex_);
        context_ = std::move(context);
    }
    TG_LOG(info, "SIGHUP: reloaded certificate %s and key %s; open connections keep theirs", cert_path_.c_str(),
           key_path_.c_str());
    return ReloadResult::ok;
}

std::shared_ptr<boost::asio::ssl::context> TlsContextStore::current() const {
    std::lock_guard lock(mutex_);
    return context_;
}

}  // namespace tickgate::gateway
