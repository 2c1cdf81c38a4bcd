#pragma once
// Which topics each connection subscribes to, and which connections are slow: decided up front
// from the seed, so a run can be repeated exactly.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tickgate::load {

/// For each of `connections`, `k` distinct indices into a list of `n_topics` (all of them when
/// k >= n_topics). "uniform" draws every topic alike; "zipf[:S]" draws the topic of rank r (its
/// position in the list, from 1) with weight 1/r^S, S = 1 unless given. Empty on a bad spec.
std::vector<std::vector<std::uint32_t>> choose_topics(std::size_t n_topics, std::size_t connections, std::size_t k,
                                                      std::string_view distribution, std::uint64_t seed);

/// `PATTERN=K` of --draw: K topics per connection among those the pattern matches.
struct DrawGroup {
    std::string pattern;
    unsigned k = 0;
};

/// Parses "book.*=2"; false when there is no '=' or K is not a positive integer.
bool parse_draw_group(std::string_view text, DrawGroup& out);

/// True when `pattern` covers `topic` segment by segment ('.' separated), '*' standing for one
/// whole segment, as the gateway's patterns do ("book.*" covers book.BTC-USD, not book50.BTC-USD).
bool pattern_matches(std::string_view pattern, std::string_view topic) noexcept;

/// For each connection, the topics of every group in turn: group g's K drawn (as choose_topics,
/// seed varied per group so the groups are independent) from the topics of `topics` that match
/// its pattern, as indices into `topics`. Empty with `error` set when a group matches nothing.
std::vector<std::vector<std::uint32_t>> choose_grouped(const std::vector<std::string>& topics, std::size_t connections,
                                                       const std::vector<DrawGroup>& groups,
                                                       std::string_view distribution, std::uint64_t seed,
                                                       std::string& error);

/// True for round(fraction * n) connections spread evenly over 0..n-1.
inline bool is_slow(std::size_t index, double fraction) noexcept {
    return static_cast<std::uint64_t>(static_cast<double>(index + 1) * fraction) >
           static_cast<std::uint64_t>(static_cast<double>(index) * fraction);
}

}  // namespace tickgate::load
