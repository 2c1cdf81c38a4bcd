#pragma once
// A WebSocket client (Boost.Beast, over TLS or plain TCP), raw HTTP GET, and version-pinned TLS
// handshakes, for the end-to-end tests. This header does not include Beast: the one translation unit
// that does is client.cpp.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace e2e {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct ConnectOptions {
    bool tls = true;
    std::string host = "127.0.0.1";     // where to connect
    std::string host_header;             // Host: header / SNI; defaults to host:port
    std::string target = "/ws";
    Headers headers;                     // extra request headers (Origin, ...)
    std::string bind_address;            // source address, e.g. "127.0.0.2"; empty: any
    std::chrono::milliseconds timeout{5000};
};

/// A WebSocket client. Every call blocks at most its timeout. Not thread-safe.
class WssClient {
public:
    WssClient();
    ~WssClient();
    WssClient(const WssClient&) = delete;
    WssClient& operator=(const WssClient&) = delete;

    /// TCP connect, TLS handshake (when tls), WebSocket upgrade. False on any failure: error() says
    /// why and http_status() holds the response status when the server answered the upgrade with
    /// something else than 101 (0 when no HTTP response was read).
    bool connect(int port, const ConnectOptions& options = {});
    int http_status() const;
    const std::string& http_body() const;  // body of a refused upgrade
    const std::string& error() const;
    /// SHA-256 fingerprint (lower-case hex) of the certificate the server presented; empty without TLS.
    const std::string& peer_certificate_sha256() const;

    bool send_text(const std::string& text);
    bool send_binary(const std::string& bytes);
    /// The next text (or binary) message, or nullopt at timeout or when the connection ended
    /// (then closed() is true and close_code()/close_reason() tell how).
    std::optional<std::string> read_text(std::chrono::milliseconds timeout);
    bool closed() const;
    /// The code of the close frame the server sent; nullopt when none was received.
    std::optional<int> close_code() const;
    const std::string& close_reason() const;
    /// Starts and completes the closing handshake from our side.
    void close(int code = 1000, std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

struct HttpOptions {
    bool tls = true;
    std::string host = "127.0.0.1";
    Headers headers;
    std::string bind_address;
    std::chrono::milliseconds timeout{5000};
};

struct HttpResult {
    int status = 0;  // 0: no response (see error)
    Headers headers;
    std::string body;
    std::string error;
    std::string header(const std::string& name) const;  // case-insensitive; empty when absent
};

/// One GET request (Connection: close) over TLS or plain TCP.
HttpResult http_get(int port, const std::string& target, const HttpOptions& options = {});

/// A bare TLS handshake pinned to [min_version, max_version] (TLS1_2_VERSION = 0x0303, ...;
/// 0 = library default). The client allows legacy versions (security level 0) so that a refusal
/// comes from the server.
struct TlsProbe {
    bool ok = false;
    std::string version;  // negotiated, e.g. "TLSv1.3"
    std::string error;    // handshake error text when !ok
    std::string peer_sha256;
    std::string peer_pem;
};
TlsProbe tls_probe(int port, int min_version, int max_version, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

}  // namespace e2e
