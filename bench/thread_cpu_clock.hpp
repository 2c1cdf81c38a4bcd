#pragma once
// The calling thread's CPU time as a std::chrono clock, for micro-benchmarks on a shared machine:
// wall time would count the time other processes held the core.

#include <time.h>

#include <chrono>
#include <cstdint>

namespace tickgate::bench {

struct ThreadCpuClock {
    using duration = std::chrono::nanoseconds;
    using time_point = std::chrono::time_point<ThreadCpuClock>;
    static time_point now() {
        timespec ts{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return time_point(duration(std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec));
    }
};

}  // namespace tickgate::bench
