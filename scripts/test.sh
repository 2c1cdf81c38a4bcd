#!/usr/bin/env bash
# Installs what is missing, builds everything and runs the whole test suite: the Release build
# (unit, end-to-end with the real binary, Node.js clients), then the same tests under
# AddressSanitizer + UndefinedBehaviorSanitizer. A failed test is run once more before it counts:
# a few tests check pacing (1 ms spacing) and the machines are shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
export TICKGATE_SETUP_TEST=1
# Each phase's start, with the seconds since the script began: where CI's time goes.
started=$SECONDS
phase() { echo "== [$((SECONDS - started)) s] $*"; }
phase "Set-up"
bash scripts/setup.sh
jobs=$(nproc)

build() {  # dir, cmake args... [-- cmake --build args...]
  local dir=$1; shift
  local configure=() targets=()
  while (($#)) && [[ $1 != -- ]]; do configure+=("$1"); shift; done
  (($#)) && { shift; targets=("$@"); }
  # Unity builds (CMakeLists.txt says why): about half the compile time of every build here.
  [[ -f "$dir/build.ninja" ]] || cmake -S . -B "$dir" -G Ninja -DCMAKE_UNITY_BUILD=ON "${configure[@]}" >/dev/null
  cmake --build "$dir" -j"$jobs" "${targets[@]}"
}

phase "Release build"
build build-release -DCMAKE_BUILD_TYPE=Release
phase "Release tests"
(cd build-release && ctest --output-on-failure -j"$jobs" --timeout 300 --repeat until-pass:2)
# The run above uses the default --io-backend auto, which is uring wherever io_uring works (and
# node_io_backend checks both backends by name, and the fallback): run the end-to-end tests once
# more on the epoll backend, so both write paths see the whole suite (but for the 2-minute soak,
# which checks for leaks over time, not a write path: once is enough).
phase "Release end-to-end tests on --io-backend epoll"
(cd build-release && TICKGATE_IO_BACKEND=epoll ctest --output-on-failure -j"$jobs" --timeout 300 --repeat until-pass:2 -L e2e \
  -E '^e2e_soak_short$')

phase "Fuzzing the protocol decoders (libFuzzer, 12 s per target)"
bash tests/fuzz/run.sh 12

phase "ASan+UBSan build"
# -O1 with line tables only: the sanitizers' reports keep file:line with less to compile than
# RelWithDebInfo's -O2 -g (the saving is not measured).
build build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DTICKGATE_SANITIZE=ON
phase "ASan+UBSan tests (those labelled timing or release-only run in the Release build only)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j"$jobs" --timeout 300 --repeat until-pass:2 -LE "timing|release-only")

phase "ThreadSanitizer build of the unit tests (gateway and feeds: ring, update channel, engine and workers, polling, egress, NATS)"
unset ASAN_OPTIONS UBSAN_OPTIONS
build build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DTICKGATE_TSAN=ON -- --target gateway_tests feeds_tests
phase "ThreadSanitizer tests"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp"
(cd build-tsan && ctest --output-on-failure -j"$jobs" --timeout 300 --repeat until-pass:2 -L "^(gateway|feeds)$")
phase "Done"
