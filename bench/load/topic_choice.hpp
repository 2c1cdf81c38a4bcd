#pragma once
// Which topics each connection subscribes to, and which connections are slow: decided up front
// from the seed, so a run can be repeated exactly.

#include <cstdint>
#include <string_view>
#include <vector>

namespace tickgate::load {

/// For each of `connections`, `k` distinct indices into a list of `n_topics` (all of them when
/// k >= n_topics). "uniform" draws every topic alike; "zipf[:S]" draws the topic of rank r (its
/// position in the list, from 1) with weight 1/r^S, S = 1 unless given. Empty on a bad spec.
std::vector<std::vector<std::uint32_t>> choose_topics(std::size_t n_topics, std::size_t connections, std::size_t k,
                                                      std::string_view distribution, std::uint64_t seed);

/// True for round(fraction * n) connections spread evenly over 0..n-1.
inline bool is_slow(std::size_t index, double fraction) noexcept {
    return static_cast<std::uint64_t>(static_cast<double>(index + 1) * fraction) >
           static_cast<std::uint64_t>(static_cast<double>(index) * fraction);
}

}  // namespace tickgate::load
