#include "gateway/feed_flags.hpp"

#include <boost/program_options/parsers.hpp>
#include <boost/program_options/value_semantic.hpp>
#include <boost/program_options/variables_map.hpp>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace tickgate::gateway {
namespace po = boost::program_options;

void add_feed_flags(po::options_description& d, std::vector<std::string>& feeds, feeds::SimulatorOptions& sim,
                    const char* feed_help) {
    std::string shown;
    for (const auto& f : feeds) shown += (shown.empty() ? "" : " ") + f;
    // clang-format off
    d.add_options()
        ("feed", po::value(&feeds)->default_value(feeds, shown), feed_help)
        ("symbols", po::value(&sim.symbols)->default_value(sim.symbols), "simulator: number of symbols")
        ("rate", po::value(&sim.rate)->default_value(sim.rate), "simulator: updates per second over all symbols")
        ("seed", po::value(&sim.seed)->default_value(sim.seed), "simulator: random seed");
    // clang-format on
}

std::optional<std::string> validate_feed_flags(const std::vector<std::string>& feeds, const feeds::SimulatorOptions& sim) {
    if (sim.symbols == 0 || sim.symbols > 100000) return "--symbols must be between 1 and 100000";
    if (!(sim.rate > 0) || sim.rate > 1e8) return "--rate must be above 0 and at most 100000000";
    if (feeds.empty()) return "at least one --feed is needed";
    if (feeds.size() > 64) return "at most 64 --feed specs";
    return std::nullopt;
}

bool parse_flags_and_config_file(const char* program, int argc, const char* const argv[],
                                 const boost::program_options::options_description& d,
                                 boost::program_options::variables_map& vm, std::optional<int>& exit_code,
                                 std::string& text) {
    namespace po = boost::program_options;
    try {
        po::store(po::parse_command_line(argc, argv, d), vm);
        if (vm.count("help")) {
            std::ostringstream usage;
            usage << "usage: " << program << " [options]\n" << d << '\n';
            text = usage.str();
            exit_code = 0;
            return false;
        }
        if (vm.count("version")) {
            text = std::string(program) + " " + TICKGATE_VERSION + '\n';
            exit_code = 0;
            return false;
        }
        if (vm.count("config")) {
            const auto path = vm["config"].as<std::string>();
            std::ifstream file(path);
            if (!file) throw std::runtime_error("cannot read config file " + path);
            po::store(po::parse_config_file(file, d), vm);
        }
        po::notify(vm);
    } catch (const std::exception& e) {
        text = std::string(program) + ": " + e.what();
        exit_code = 2;
        return false;
    }
    return true;
}

}  // namespace tickgate::gateway
