#include "feeds/feed_flags.hpp"

#include <boost/program_options/value_semantic.hpp>

namespace tickgate::feeds {
namespace po = boost::program_options;

void add_feed_flags(po::options_description& d, std::vector<std::string>& feeds, SimulatorOptions& sim,
                    const char* feed_help) {
    std::string shown;
    for (const auto& f : feeds) shown += (shown.empty() ? "" : " ") + f;
    // clang-format off
    d.add_options()
        ("feed", po::value(&feeds)->default_value(feeds, shown), feed_help)
        ("symbols", po::value(&sim.symbols)->default_value(sim.symbols), "simulator: number of symbols")
        ("rate", po::value(&sim.rate)->default_value(sim.rate), "simulator: updates per second over all symbols")
        ("seed", po::value(&sim.seed)->default_value(sim.seed), "simulator: random seed")
        ("book-rate", po::value(&sim.book_rate)->default_value(sim.book_rate), "simulator: order-book changes per second over all symbols (book.<SYM>; 0: no books)")
        ("trade-rate", po::value(&sim.trade_rate)->default_value(sim.trade_rate), "simulator: trades per second over all symbols (trade.<SYM>; 0: no trades)");
    // clang-format on
}

std::optional<std::string> validate_feed_flags(const std::vector<std::string>& feeds, const SimulatorOptions& sim) {
    if (sim.symbols == 0 || sim.symbols > 100000) return "--symbols must be between 1 and 100000";
    if (!(sim.rate > 0) || sim.rate > 1e8) return "--rate must be above 0 and at most 100000000";
    if (!(sim.book_rate >= 0) || sim.book_rate > 1e7) return "--book-rate must be between 0 and 10000000";
    if (!(sim.trade_rate >= 0) || sim.trade_rate > 1e7) return "--trade-rate must be between 0 and 10000000";
    if (feeds.empty()) return "at least one --feed is needed";
    if (feeds.size() > 64) return "at most 64 --feed specs";
    return std::nullopt;
}

}  // namespace tickgate::feeds
