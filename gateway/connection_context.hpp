#pragma once
// What a connection needs of the server, and nothing more: the configuration, admission (limits
// and connection-result counters), health for /healthz and /readyz, and the polling sid directory.
// The server owns each part; connections get this, never the server.

namespace tickgate::gateway {

struct Config;
class Admission;
class Health;
class PollingDirectory;

struct ConnectionContext {
    const Config& config;
    Admission& admission;
    const Health& health;
    PollingDirectory& polling;
};

}  // namespace tickgate::gateway
