#pragma once
// Reading a process's (or one thread's) CPU time and resident memory from /proc.

#include <optional>
#include <string>

namespace tickgate::load {

struct ProcSample {
    double user_s = 0;
    double sys_s = 0;
    long rss_kib = 0;  // 0 for a thread path (threads share the process's memory)
    double cpu_s() const noexcept { return user_s + sys_s; }
};

/// Reads `<dir>/stat` (utime, stime) and `<dir>/status` (VmRSS), e.g. dir = "/proc/123" or
/// "/proc/self/task/456". nullopt when the process is gone.
std::optional<ProcSample> read_proc_sample(const std::string& dir);
/// Parses the text of a stat file (the comm field may hold spaces and parentheses).
std::optional<ProcSample> parse_proc_stat(const std::string& stat_text);
/// The short command name (/proc/PID/comm), or "" when unreadable.
std::string read_proc_name(int pid);

}  // namespace tickgate::load
