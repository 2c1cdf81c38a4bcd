#pragma once
// The feed flags tickgate and tickgate-feed share (--feed, --symbols, --rate, --seed): one
// definition, so both programs accept the same specs with the same meanings and limits.

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/variables_map.hpp>

#include <optional>
#include <string>
#include <vector>

#include "feeds/feed_adapter.hpp"

namespace tickgate::gateway {

/// Adds the four flags to `d`, storing into feeds and sim (their current values are the defaults).
void add_feed_flags(boost::program_options::options_description& d, std::vector<std::string>& feeds,
                    feeds::SimulatorOptions& sim, const char* feed_help);

/// The command-line contract both programs share: flags first, then the --config file (flags win:
/// Program_options keeps the first value it sees), --help and --version answered with exit 0,
/// anything malformed with "PROGRAM: why" and exit 2. Returns false with `exit_code` and `text`
/// set when the program should print `text` and exit instead of running; `vm` holds what was parsed.
bool parse_flags_and_config_file(const char* program, int argc, const char* const argv[],
                                 const boost::program_options::options_description& d,
                                 boost::program_options::variables_map& vm, std::optional<int>& exit_code,
                                 std::string& text);

/// The one-line problem with the values, if any (without the program name).
std::optional<std::string> validate_feed_flags(const std::vector<std::string>& feeds, const feeds::SimulatorOptions& sim);

}  // namespace tickgate::gateway
