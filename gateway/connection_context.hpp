#pragma once
// What a connection needs of the server, and nothing more: the configuration, admission (limits
// and connection-result counters), health for /healthz and /readyz, the polling sid directory,
// access control, and the broadcast engine its client publishes through.
// The server owns each part; connections get this, never the server.

namespace tickgate::gateway {

struct Config;
class Admission;
class Health;
class PollingDirectory;
class BroadcastEngine;
namespace auth {
class AccessControl;
}

struct ConnectionContext {
    const Config& config;
    Admission& admission;
    const Health& health;
    PollingDirectory& polling;
    auth::AccessControl* access = nullptr;  // JWT access control; null or disabled: none
    BroadcastEngine* engine = nullptr;      // where client publishes go; null: none (not started)
};

}  // namespace tickgate::gateway
