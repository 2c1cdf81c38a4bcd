#pragma once
// Timing helpers shared by the feeds that pace themselves (simulator, replay).

#include <chrono>
#include <stop_token>

namespace tickgate::feeds {

/// Asks the kernel to wake the calling thread as close to its deadlines as it can (the default
/// 50 µs timer slack would bunch a 1,000/s feed into visible bursts). Linux only; a no-op elsewhere.
void use_precise_timer_slack() noexcept;

/// Sleeps until `deadline` or until stop is requested, whichever comes first. Returns false when
/// stop was requested.
bool sleep_until_or_stop(const std::stop_token& stop, std::chrono::steady_clock::time_point deadline);

}  // namespace tickgate::feeds
