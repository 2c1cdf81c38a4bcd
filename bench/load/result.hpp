#pragma once
// Everything one run measured, with the parameters that produced it; written as one JSON file and
// as a short human summary.

#include <string>
#include <vector>

#include "bench/load/options.hpp"
#include "bench/load/stats.hpp"

namespace tickgate::load {

struct ProcessResult {
    int pid = 0;
    std::string name;
    double user_s = 0, sys_s = 0;  // over the measured window
    long rss_start_kib = 0;        // before the first connection
    long rss_end_kib = 0;          // at the end of the window
    long rss_max_kib = 0;          // largest sample during the run
    bool gone = false;             // exited during the run
};

struct ThreadCpu {
    double cpu_s = 0;  // user + sys over the window
    double busy = 0;   // cpu_s / window seconds
};

struct Result {
    Options options;
    std::size_t topics_available = 0;
    std::string started_at;         // ISO 8601 UTC
    double window_s = 0;            // measured window actually run
    double ramp_s = 0;              // first launch to the last connection settled
    unsigned slow_connections = 0;
    ThreadStats totals;             // merged over the workers
    std::vector<ProcessResult> targets;
    double self_user_s = 0, self_sys_s = 0;  // the tool, over the window
    long self_rss_kib = 0;
    std::vector<ThreadCpu> threads;
    long fd_limit = 0;
    std::vector<std::string> warnings;
    bool ok = true;
    std::string error;  // when !ok: why the run could not be done
};

/// The JSON result document (see README.md for the fields).
std::string to_json(const Result& r);
/// A few lines for a person.
std::string summary(const Result& r);

}  // namespace tickgate::load
