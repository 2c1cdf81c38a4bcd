#include "bench/load/topic_choice.hpp"

#include <algorithm>
#include <charconv>
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

bool parse_draw_group(std::string_view text, DrawGroup& out) {
    const auto eq = text.rfind('=');
    if (eq == std::string_view::npos || eq == 0) return false;
    const auto count = text.substr(eq + 1);
    unsigned k = 0;
    const auto r = std::from_chars(count.data(), count.data() + count.size(), k);
    if (r.ec != std::errc{} || r.ptr != count.data() + count.size() || k == 0) return false;
    out.pattern = std::string(text.substr(0, eq));
    out.k = k;
    return true;
}

bool pattern_matches(std::string_view pattern, std::string_view topic) noexcept {
    while (true) {
        const auto pd = pattern.find('.'), td = topic.find('.');
        const auto ps = pattern.substr(0, pd), ts = topic.substr(0, td);
        if (ps != "*" && ps != ts) return false;
        if (pd == std::string_view::npos || td == std::string_view::npos) return pd == td;
        pattern.remove_prefix(pd + 1);
        topic.remove_prefix(td + 1);
    }
}

std::vector<std::vector<std::uint32_t>> choose_grouped(const std::vector<std::string>& topics, std::size_t connections,
                                                       const std::vector<DrawGroup>& groups,
                                                       std::string_view distribution, std::uint64_t seed,
                                                       std::string& error) {
    std::vector<std::vector<std::uint32_t>> out(connections);
    for (std::size_t g = 0; g < groups.size(); ++g) {
        std::vector<std::uint32_t> matching;
        for (std::uint32_t i = 0; i < topics.size(); ++i)
            if (pattern_matches(groups[g].pattern, topics[i])) matching.push_back(i);
        if (matching.empty()) {
            error = "--draw " + groups[g].pattern + "=" + std::to_string(groups[g].k) + ": no topic matches";
            return {};
        }
        const auto drawn = choose_topics(matching.size(), connections, groups[g].k, distribution,
                                         seed + 0x9E3779B97F4A7C15ULL * (g + 1));
        if (drawn.empty()) {
            error = "bad --distribution " + std::string(distribution);
            return {};
        }
        for (std::size_t c = 0; c < connections; ++c)
            for (const auto i : drawn[c])
                if (std::find(out[c].begin(), out[c].end(), matching[i]) == out[c].end()) out[c].push_back(matching[i]);
    }
    return out;
}

}  // namespace tickgate::load
