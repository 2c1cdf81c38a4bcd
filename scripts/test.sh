#!/usr/bin/env bash
# Installs what is missing, builds everything and runs the whole test suite: the Release build
# (unit, end-to-end with the real binary, Node.js clients), then the same tests under
# AddressSanitizer + UndefinedBehaviorSanitizer. A failed test is run once more before it counts:
# a few tests check pacing (1 ms spacing) and the machines are shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
export TICKGATE_SETUP_TEST=1
bash scripts/setup.sh
jobs=$(nproc)

build() {  # dir, extra cmake args...
  local dir=$1; shift
  [[ -f "$dir/build.ninja" ]] || cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
}

echo "== Release build"
build build-release -DCMAKE_BUILD_TYPE=Release
echo "== Release tests"
(cd build-release && ctest --output-on-failure -j"$jobs" --timeout 300 --repeat until-pass:2)
# The run above uses the default --io-backend auto, which is uring wherever io_uring works (and
# node_io_backend checks both backends by name, and the fallback): run the end-to-end tests once
# more on the epoll backend, so both write paths see the whole suite.
echo "== Release end-to-end tests on --io-backend epoll"
(cd build-release && TICKGATE_IO_BACKEND=epoll ctest --output-on-failure -j"$jobs" --timeout 300 --repeat until-pass:2 -L e2e)

echo "== Fuzzing the protocol decoders (libFuzzer, 12 s per target)"
bash tests/fuzz/run.sh 12

echo "== ASan+UBSan build"
build build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTICKGATE_SANITIZE=ON
echo "== ASan+UBSan tests (those labelled timing or release-only run in the Release build only)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j"$jobs" --timeout 300 --repeat until-pass:2 -LE "timing|release-only")
