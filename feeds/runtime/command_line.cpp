#include "feeds/runtime/command_line.hpp"

#include <boost/program_options/parsers.hpp>
#include <boost/program_options/value_semantic.hpp>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "feeds/runtime/log.hpp"

namespace tickgate::runtime {
namespace po = boost::program_options;

bool parse_flags_and_config_file(const char* program, int argc, const char* const argv[],
                                 const po::options_description& d, po::variables_map& vm,
                                 std::optional<int>& exit_code, std::string& text) {
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

void add_log_level_flag(po::options_description& d, std::string& level) {
    d.add_options()("log-level", po::value(&level)->default_value(level), "debug | info | warn | error");
}

std::optional<std::string> validate_log_level(const std::string& level) {
    if (!log_level_named(level)) return "--log-level must be debug, info, warn or error";
    return std::nullopt;
}

}  // namespace tickgate::runtime
