#pragma once
// One line per event to stderr: "2026-11-25T20:40:10.123Z info  listening on wss://127.0.0.1:8443/ws".
// Both programs and the feeds log through this, so a feed's lines look the same in either program.

#include <optional>
#include <string_view>

namespace tickgate::runtime {

enum class LogLevel { debug, info, warn, error };

void set_log_level(LogLevel level) noexcept;
/// The level called `name` (debug, info, warn, error); nullopt for any other name.
std::optional<LogLevel> log_level_named(std::string_view name) noexcept;
LogLevel parse_log_level(std::string_view name) noexcept;  // unknown names give info
bool log_enabled(LogLevel level) noexcept;

/// printf-style; the line is written with one write() so lines from different threads never interleave.
[[gnu::format(printf, 2, 3)]] void log(LogLevel level, const char* format, ...);

}  // namespace tickgate::runtime

#define TG_LOG(level, ...)                                                                        \
    do {                                                                                          \
        if (::tickgate::runtime::log_enabled(::tickgate::runtime::LogLevel::level))               \
            ::tickgate::runtime::log(::tickgate::runtime::LogLevel::level, __VA_ARGS__);          \
    } while (0)
