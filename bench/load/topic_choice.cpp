#include "bench/load/topic_choice.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

namespace tickgate::load {

std::vector<std::vector<std::uint32_t>> choose_topics(std::size_t n_topics, std::size_t connections, std::size_t k,
                                                      std::string_view distribution, std::uint64_t seed) {
    std::vector<std::vector<std::uint32_t>> out;
    if (n_topics == 0) return out;
    std::vector<double> cumulative(n_topics);
    if (distribution == "uniform") {
        for (std::size_t i = 0; i < n_topics; ++i) cumulative[i] = static_cast<double>(i + 1);
    } else if (distribution.starts_with("zipf")) {
        double s = 1.0;
        if (distribution.size() > 5 && distribution[4] == ':') {
            try {
                s = std::stod(std::string(distribution.substr(5)));
            } catch (const std::exception&) {
                return out;
            }
        } else if (distribution.size() != 4) {
            return out;
        }
        double sum = 0;
        for (std::size_t i = 0; i < n_topics; ++i) cumulative[i] = sum += 1.0 / std::pow(static_cast<double>(i + 1), s);
    } else {
        return out;
    }
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> unit(0.0, cumulative.back());
    k = std::min(k, n_topics);
    out.resize(connections);
    for (auto& chosen : out) {
        chosen.reserve(k);
        if (k == n_topics) {
            for (std::uint32_t i = 0; i < n_topics; ++i) chosen.push_back(i);
            continue;
        }
        // Draw with replacement and skip repeats: cheap while k is well below the list size; for
        // a heavy Zipf head with k near n the fallback below fills in the least likely ranks.
        for (std::size_t attempts = 0; chosen.size() < k && attempts < 64 * k; ++attempts) {
            const auto at = std::upper_bound(cumulative.begin(), cumulative.end(), unit(rng)) - cumulative.begin();
            const auto index = static_cast<std::uint32_t>(std::min<std::ptrdiff_t>(at, static_cast<std::ptrdiff_t>(n_topics) - 1));
            if (std::find(chosen.begin(), chosen.end(), index) == chosen.end()) chosen.push_back(index);
        }
        for (std::uint32_t i = 0; chosen.size() < k; ++i)
            if (std::find(chosen.begin(), chosen.end(), i) == chosen.end()) chosen.push_back(i);
    }
    return out;
}

}  // namespace tickgate::load
