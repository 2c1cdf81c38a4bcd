#pragma once
// Deterministic bytes for transport tests: a stream cut, reordered or duplicated anywhere no longer
// equals what was sent.
#include <cstddef>
#include <cstdint>
#include <string>

namespace tickgate::gateway::testing {

inline std::string byte_pattern(std::size_t size, unsigned seed) {
    std::string s(size, '\0');
    std::uint32_t x = seed * 2654435761u + 1;
    for (auto& c : s) {
        x = x * 1664525u + 1013904223u;
        c = static_cast<char>(x >> 24);
    }
    return s;
}

}  // namespace tickgate::gateway::testing
