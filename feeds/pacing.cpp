#include "feeds/pacing.hpp"

#include <condition_variable>
#include <mutex>

#if defined(__linux__)
#include <sys/prctl.h>
#endif

namespace tickgate::feeds {

void use_precise_timer_slack() noexcept {
#if defined(__linux__)
    ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
#endif
}

bool sleep_until_or_stop(const std::stop_token& stop, std::chrono::steady_clock::time_point deadline) {
    // A condition variable that nobody notifies: condition_variable_any's stop_token overload wakes
    // it the moment stop is requested, so even a 1 update/s feed stops at once.
    thread_local std::mutex mutex;
    thread_local std::condition_variable_any cv;
    std::unique_lock lock(mutex);
    (void)cv.wait_until(lock, stop, deadline, [] { return false; });
    return !stop.stop_requested();
}

}  // namespace tickgate::feeds
