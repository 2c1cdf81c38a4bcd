#include "bench/load/proc_stat.hpp"

#include <unistd.h>

#include <fstream>
#include <sstream>

namespace tickgate::load {
namespace {

std::optional<std::string> slurp(const std::string& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

std::optional<ProcSample> parse_proc_stat(const std::string& text) {
    // Fields after "(comm)": 3 state, ..., 14 utime, 15 stime (clock ticks).
    const auto close = text.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream in(text.substr(close + 1));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15; ++i) {
        if (!(in >> field)) return std::nullopt;
        if (i == 14) utime = std::stoull(field);
        if (i == 15) stime = std::stoull(field);
    }
    static const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
    ProcSample s;
    s.user_s = static_cast<double>(utime) / tick;
    s.sys_s = static_cast<double>(stime) / tick;
    return s;
}

std::optional<ProcSample> read_proc_sample(const std::string& dir) {
    const auto stat = slurp(dir + "/stat");
    if (!stat) return std::nullopt;
    auto sample = parse_proc_stat(*stat);
    if (!sample) return std::nullopt;
    if (const auto status = slurp(dir + "/status")) {
        const auto at = status->find("VmRSS:");
        if (at != std::string::npos) sample->rss_kib = std::atol(status->c_str() + at + 6);
    }
    return sample;
}

std::string read_proc_name(int pid) {
    auto name = slurp("/proc/" + std::to_string(pid) + "/comm").value_or("");
    while (!name.empty() && name.back() == '\n') name.pop_back();
    return name;
}

}  // namespace tickgate::load
