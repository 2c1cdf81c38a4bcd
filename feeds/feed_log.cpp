#include "feeds/feed_log.hpp"

#include <cstdarg>
#include <cstdio>

namespace tickgate::feeds {
namespace {

void stderr_sink(FeedLogLevel, const char* line) { std::fprintf(stderr, "tickgate: %s\n", line); }

FeedLogSink sink = stderr_sink;

}  // namespace

void set_feed_log_sink(FeedLogSink s) noexcept { sink = s ? s : stderr_sink; }

void feed_log(FeedLogLevel level, const char* format, ...) {
    char line[1024];
    va_list args;
    va_start(args, format);
    std::vsnprintf(line, sizeof line, format, args);
    va_end(args);
    sink(level, line);
}

}  // namespace tickgate::feeds
