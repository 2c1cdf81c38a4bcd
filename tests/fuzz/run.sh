#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (protocol/ decoders; the gateway's upgrade request,
# JWT verification and operator API bodies) with clang in build-fuzz/ and runs each for SECONDS
# (default 20), starting from the seeds in tests/fuzz/corpus/<target>/. Exits non-zero when a
# target crashes, leaks, trips a sanitizer or fails one of its checks; the input that did it is
# saved as build-fuzz/artifacts/<target>-crash-* (replay: build-fuzz/<target> <that file>).
#   usage: bash tests/fuzz/run.sh [SECONDS]
set -euo pipefail

seconds="${1:-20}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$root/build-fuzz"
targets=(engineio_fuzz socketio_fuzz frame_reader_fuzz request_fuzz bus_update_fuzz bus_v2_fuzz bus_publish_fuzz book_fuzz
         upgrade_fuzz jwt_fuzz admin_body_fuzz)

generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
# A unity build, as scripts/test.sh builds (CMakeLists.txt says why).
CC=clang CXX=clang++ cmake -S "$root/tests/fuzz" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_UNITY_BUILD=ON >/dev/null
cmake --build "$build" -j2

# halt_on_error: a UBSan report is a crash. The suppressions excuse one known RapidJSON 1.1.0 case.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$root/tests/fuzz/ubsan.supp"
mkdir -p "$build/artifacts"
# One target per core at a time: each is one process, so two cores halve the wall time.
run_target() {
  local target=$1
  # New inputs go to a scratch directory, so the committed seeds stay small and unchanged.
  local work="$build/corpus/$target"
  mkdir -p "$work"
  if "$build/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
       -print_final_stats=1 -artifact_prefix="$build/artifacts/$target-" \
       "$work" "$root/tests/fuzz/corpus/$target" 2>"$build/$target.log"; then
    echo "== $target: ${seconds}s, $(grep -E '^stat::number_of_executed_units' "$build/$target.log" | tail -n 1)"
  else
    echo "== $target: FAILED"
    tail -n 60 "$build/$target.log"
    touch "$build/$target.failed"
  fi
}
rm -f "$build"/*.failed
parallel=$(nproc)
for target in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= parallel)); do wait -n || true; done
  run_target "$target" &
done
wait
failed=()
for target in "${targets[@]}"; do [[ -e "$build/$target.failed" ]] && failed+=("$target"); done

if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]} (inputs in $build/artifacts/)" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets ran ${seconds}s each without a finding"
