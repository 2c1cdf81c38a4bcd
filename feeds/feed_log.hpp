#pragma once
// Log lines from feeds/. The feeds library does not know the gateway's logger (it links the other
// way), so the program installs a sink at start; until then lines go to stderr as they are.

namespace tickgate::feeds {

enum class FeedLogLevel { debug, info, warn, error };
using FeedLogSink = void (*)(FeedLogLevel level, const char* line);

/// Call before any feed runs (not synchronised with feed threads).
void set_feed_log_sink(FeedLogSink sink) noexcept;

[[gnu::format(printf, 2, 3)]] void feed_log(FeedLogLevel level, const char* format, ...);

}  // namespace tickgate::feeds
