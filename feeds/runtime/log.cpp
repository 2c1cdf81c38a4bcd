#include "feeds/runtime/log.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <ctime>

namespace tickgate::runtime {
namespace {
std::atomic<LogLevel> g_level{LogLevel::info};
constexpr const char* kNames[] = {"debug", "info ", "warn ", "error"};
}  // namespace

void set_log_level(LogLevel level) noexcept { g_level.store(level, std::memory_order_relaxed); }

std::optional<LogLevel> log_level_named(std::string_view name) noexcept {
    if (name == "debug") return LogLevel::debug;
    if (name == "info") return LogLevel::info;
    if (name == "warn") return LogLevel::warn;
    if (name == "error") return LogLevel::error;
    return std::nullopt;
}

LogLevel parse_log_level(std::string_view name) noexcept { return log_level_named(name).value_or(LogLevel::info); }

bool log_enabled(LogLevel level) noexcept { return level >= g_level.load(std::memory_order_relaxed); }

void log(LogLevel level, const char* format, ...) {
    char line[1024];
    const auto now = std::chrono::system_clock::now();
    const auto secs = std::chrono::system_clock::to_time_t(now);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    int n = std::snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s ", tm.tm_year + 1900,
                          tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms),
                          kNames[static_cast<int>(level)]);
    va_list args;
    va_start(args, format);
    const int body = std::vsnprintf(line + n, sizeof line - static_cast<std::size_t>(n) - 1, format, args);
    va_end(args);
    if (body > 0) n += std::min(body, static_cast<int>(sizeof line) - n - 2);
    line[n++] = '\n';
    [[maybe_unused]] auto written = ::write(STDERR_FILENO, line, static_cast<std::size_t>(n));
}

}  // namespace tickgate::runtime
