#pragma once
// The realtime clock every `ts` and every latency is read from: the feeds stamp updates with it,
// the publisher restamps them, the gateway measures fan-out and upstream latency against it. One
// definition, so the two ends of every latency are the same clock read the same way.

#include <cstdint>
#include <ctime>

namespace tickgate::runtime {

/// CLOCK_REALTIME in ns since the Unix epoch. Inline: it is read once per update on hot paths.
inline std::int64_t realtime_ns() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace tickgate::runtime
