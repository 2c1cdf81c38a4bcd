#pragma once
// The command-line contract tickgate and tickgate-feed share, written once so both programs answer
// --help, --version, --config FILE, a bad flag and --log-level the same way.

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/variables_map.hpp>

#include <optional>
#include <string>

namespace tickgate::runtime {

/// Flags first, then the --config file (flags win: Program_options keeps the first value it sees),
/// --help and --version answered with exit 0, anything malformed with "PROGRAM: why" and exit 2.
/// Returns false with `exit_code` and `text` set when the program should print `text` and exit
/// instead of running; `vm` holds what was parsed.
bool parse_flags_and_config_file(const char* program, int argc, const char* const argv[],
                                 const boost::program_options::options_description& d,
                                 boost::program_options::variables_map& vm, std::optional<int>& exit_code,
                                 std::string& text);

/// Adds --log-level, storing into `level` (its current value is the default).
void add_log_level_flag(boost::program_options::options_description& d, std::string& level);

/// The one-line problem with a --log-level value, if any (without the program name).
std::optional<std::string> validate_log_level(const std::string& level);

}  // namespace tickgate::runtime
