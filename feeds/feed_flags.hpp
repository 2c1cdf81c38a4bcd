#pragma once
// The feed flags tickgate and tickgate-feed share (--feed, --symbols, --rate, --seed, --book-rate,
// --trade-rate): one definition, so both programs accept the same specs with the same meanings and
// limits.

#include <boost/program_options/options_description.hpp>

#include <optional>
#include <string>
#include <vector>

#include "feeds/feed_adapter.hpp"

namespace tickgate::feeds {

/// Adds the flags to `d`, storing into feeds and sim (their current values are the defaults):
/// --feed, --symbols, --rate, --seed, --book-rate and --trade-rate.
void add_feed_flags(boost::program_options::options_description& d, std::vector<std::string>& feeds,
                    SimulatorOptions& sim, const char* feed_help);

/// The one-line problem with the values, if any (without the program name).
std::optional<std::string> validate_feed_flags(const std::vector<std::string>& feeds, const SimulatorOptions& sim);

}  // namespace tickgate::feeds
