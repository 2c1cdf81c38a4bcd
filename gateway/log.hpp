#pragma once
// One line per event to stderr: "2026-11-25T20:40:10.123Z info  listening on wss://127.0.0.1:8443/ws".

#include <string_view>

namespace tickgate::gateway {

enum class LogLevel { debug, info, warn, error };

void set_log_level(LogLevel level) noexcept;
LogLevel parse_log_level(std::string_view name) noexcept;  // unknown names give info
bool log_enabled(LogLevel level) noexcept;

/// printf-style; the line is written with one write() so lines from different threads never interleave.
[[gnu::format(printf, 2, 3)]] void log(LogLevel level, const char* format, ...);

}  // namespace tickgate::gateway

#define TG_LOG(level, ...)                                                                        \
    do {                                                                                          \
        if (::tickgate::gateway::log_enabled(::tickgate::gateway::LogLevel::level))               \
            ::tickgate::gateway::log(::tickgate::gateway::LogLevel::level, __VA_ARGS__);          \
    } while (0)
