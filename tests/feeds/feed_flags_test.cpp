// The feed flags both programs share (feeds/feed_flags.cpp): --book-rate and --trade-rate, from
// flags and a config file, and their limits. (tickgate-feed also needs --bus-version 2 for them:
// publisher_config.cpp, tested in nats_cli.test.mjs.)
#include "feeds/feed_flags.hpp"

#include <gtest/gtest.h>

#include <boost/program_options.hpp>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

namespace tickgate::feeds {
namespace {

namespace po = boost::program_options;

struct Parsed {
    std::vector<std::string> feeds{"sim"};
    SimulatorOptions sim;
    std::string error;  // a parse error or validate_feed_flags' problem; empty when fine
    std::string help;
};

Parsed parse(std::vector<std::string> args, const std::string& config_file = "") {
    Parsed p;
    po::options_description d;
    add_feed_flags(d, p.feeds, p.sim, "feed SPEC");
    std::ostringstream help;
    help << d;
    p.help = help.str();
    args.insert(args.begin(), "prog");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    try {
        po::variables_map vm;
        po::store(po::parse_command_line(static_cast<int>(argv.size()), argv.data(), d), vm);
        if (!config_file.empty()) {
            std::istringstream in(config_file);
            po::store(po::parse_config_file(in, d), vm);
        }
        po::notify(vm);
        if (auto problem = validate_feed_flags(p.feeds, p.sim)) p.error = *problem;
    } catch (const std::exception& e) {
        p.error = e.what();
    }
    return p;
}

TEST(FeedFlags, BookAndTradeRatesDefaultToZero) {
    const Parsed p = parse({});
    EXPECT_EQ(p.error, "");
    EXPECT_EQ(p.sim.book_rate, 0);
    EXPECT_EQ(p.sim.trade_rate, 0);
    EXPECT_NE(p.help.find("--book-rate"), std::string::npos) << p.help;
    EXPECT_NE(p.help.find("--trade-rate"), std::string::npos) << p.help;
}

TEST(FeedFlags, BookAndTradeRatesAreParsedFromFlagsAndConfigFile) {
    const Parsed flags = parse({"--book-rate", "1000", "--trade-rate", "200.5", "--rate", "50"});
    ASSERT_EQ(flags.error, "");
    EXPECT_EQ(flags.sim.book_rate, 1000);
    EXPECT_EQ(flags.sim.trade_rate, 200.5);
    EXPECT_EQ(flags.sim.rate, 50);
    // The config file's keys are the flags' names; a flag wins over the file.
    const Parsed file = parse({"--trade-rate", "7"}, "book-rate = 30\ntrade-rate = 40\n");
    ASSERT_EQ(file.error, "");
    EXPECT_EQ(file.sim.book_rate, 30);
    EXPECT_EQ(file.sim.trade_rate, 7);
    // Both ends of the range.
    EXPECT_EQ(parse({"--book-rate", "0", "--trade-rate", "1e7"}).error, "");
}

TEST(FeedFlags, BookAndTradeRatesOutOfRangeAreRefused) {
    EXPECT_EQ(parse({"--book-rate", "-1"}).error, "--book-rate must be between 0 and 10000000");
    EXPECT_EQ(parse({"--book-rate", "10000001"}).error, "--book-rate must be between 0 and 10000000");
    EXPECT_EQ(parse({"--book-rate", "nan"}).error, "--book-rate must be between 0 and 10000000");
    EXPECT_EQ(parse({"--trade-rate", "-0.5"}).error, "--trade-rate must be between 0 and 10000000");
    EXPECT_EQ(parse({"--trade-rate", "inf"}).error, "--trade-rate must be between 0 and 10000000");
    EXPECT_EQ(parse({"--trade-rate", "1e9"}).error, "--trade-rate must be between 0 and 10000000");
    EXPECT_NE(parse({"--book-rate", "lots"}).error.find("book-rate"), std::string::npos);
}

}  // namespace
}  // namespace tickgate::feeds
