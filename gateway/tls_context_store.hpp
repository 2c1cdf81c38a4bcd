#pragma once
// The TLS context new connections use, and its reload on SIGHUP. A connection keeps the context it
// was accepted with (it holds the shared_ptr), so a reload never drops one.

#include <memory>
#include <mutex>
#include <string>

#include "gateway/config.hpp"
#include "gateway/reloads.hpp"

namespace boost::asio::ssl {
class context;
}

namespace tickgate::gateway {

class TlsContextStore {
public:
    explicit TlsContextStore(const Config& config) : config_(config) {}

    /// At start: --cert/--key, or the self-signed certificate in --state-dir (generated when
    /// missing or expired). Nothing to do with --no-tls. False with a one-line error.
    bool load(std::string& error);
    /// SIGHUP: loads the files again; on any error keeps the current context and logs why.
    ReloadResult reload();
    /// Null with --no-tls. Any thread.
    std::shared_ptr<boost::asio::ssl::context> current() const;

private:
    const Config& config_;
    std::string cert_path_, key_path_;
    mutable std::mutex mutex_;
    std::shared_ptr<boost::asio::ssl::context> context_;
};

}  // namespace tickgate::gateway
