#pragma once
// Asks a tickgate which topics it publishes ({"op":"list"}) before the run, so the default run
// needs no topic names on the command line.

#include <string>
#include <vector>

#include "bench/load/worker.hpp"

namespace tickgate::load {

/// The topics the server lists, in its order. Throws std::runtime_error saying what failed.
std::vector<std::string> discover_topics(const RunContext& run);

/// The "topics" array of a {"type":"topics",...} message; empty when `text` is not one.
std::vector<std::string> parse_topic_list(const std::string& text);

}  // namespace tickgate::load
