#pragma once
// A check that holds in release builds too: a fuzz target's invariants must abort (a crash
// libFuzzer records with its input), whatever NDEBUG says.

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                  \
        }                                                                                  \
    } while (0)

// TICKGATE_FUZZ_KNOWN_BUGS=1: also check what a known, reported bug breaks (each target says
// which). Off by default, so CI stays green until the code is fixed; on, the target reproduces
// the bug from its committed input.
inline bool fuzz_known_bugs() {
    static const bool on = [] {
        const char* v = std::getenv("TICKGATE_FUZZ_KNOWN_BUGS");
        return v != nullptr && v[0] == '1';
    }();
    return on;
}
