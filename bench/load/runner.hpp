#pragma once
// One load run from parsed options to the written result: set-up, connection ramp, measured
// window, shutdown, summary. Returns the process exit code.

#include "bench/load/options.hpp"

namespace tickgate::load {

/// 0 when the run was measured; 1 when it could not run (nothing connected, no topics, a --pid
/// that does not exist, an unwritable --out), with the reason on stderr and in the JSON.
int run_load(const Options& options);

}  // namespace tickgate::load
