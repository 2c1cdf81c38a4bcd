#!/usr/bin/env bash
# The long fuzzing run (a benchmark-side command, not CI): builds tests/fuzz in build-fuzz/ as
# tests/fuzz/run.sh does, then runs every target for RUNS executions (default 10^7) with
# run.sh's flags and environment, and prints a Markdown table: target, executions, seconds,
# exec/s, coverage (cov: of the final stats line), corpus size (units/bytes), result.
#
# Each target starts from its committed seeds (tests/fuzz/corpus/<target>/, read only) plus a
# scratch directory, build-fuzz/corpus-long/<target>/, made afresh from a copy of what run.sh has
# collected in build-fuzz/corpus/<target>/ (when it has run before); new inputs go to the scratch
# directory. Findings are saved as build-fuzz/artifacts/long-<target>-crash-* (replay:
# build-fuzz/<target> <file>); the table is also written to build-fuzz/fuzz_long.md and each
# target's log to build-fuzz/long-<target>.log.
#
#   usage: bash bench/fuzz_long.sh [TARGET...]          (default: run.sh's targets, in its order)
#   env:   RUNS=10000000   executions per target
#          JOBS=1          targets run at once (each is one process on one core)
#          MAX_SECONDS=    also stop a target after this many seconds (libFuzzer -max_total_time;
#                          the result then says so); unset: no limit
#   e.g.   nohup nice -n 19 bash bench/fuzz_long.sh > /tmp/fuzz_long.log 2>&1 &
# Exits non-zero when a target found something (a crash, leak, sanitizer report or failed check).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-fuzz"
runs="${RUNS:-10000000}"
jobs="${JOBS:-1}"
max_seconds="${MAX_SECONDS:-}"

# The target list is run.sh's own, so a target added there is run here too.
mapfile -t all_targets < <(sed -n '/^targets=(/,/)/p' "$root/tests/fuzz/run.sh" | tr -d '()' | sed 's/^targets=//' |
                           tr -s ' \t' '\n' | sed '/^$/d')
if (($#)); then targets=("$@"); else targets=("${all_targets[@]}"); fi

generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
CC=clang CXX=clang++ cmake -S "$root/tests/fuzz" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target "${targets[@]}"

export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$root/tests/fuzz/ubsan.supp"
mkdir -p "$build/artifacts" "$build/corpus-long"
rows="$(mktemp -d)"
trap 'rm -rf "$rows"' EXIT

run_one() {
  local target="$1" work="$build/corpus-long/$1" log="$build/long-$1.log"
  rm -rf "$work"
  mkdir -p "$work"
  if [[ -d "$build/corpus/$target" ]]; then cp -r "$build/corpus/$target/." "$work/"; fi
  rm -f "$build/artifacts/long-$target-"*
  local limit=()
  if [[ -n "$max_seconds" ]]; then limit=(-max_total_time="$max_seconds"); fi
  echo "== $target: $runs runs (started $(date -u +%H:%M:%S))"
  local t0 t1 rc=0
  t0=$(date +%s.%N)
  "$build/$target" -runs="$runs" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$build/artifacts/long-$target-" \
      "$work" "$root/tests/fuzz/corpus/$target" 2>"$log" || rc=$?
  t1=$(date +%s.%N)
  local execs cov corp secs rate result artifact last
  execs=$(grep -m1 '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  execs="${execs:-?}"
  # The final stats line: "#N DONE cov: C ft: F corp: U/SIZE ..." (or the last pulse/NEW line
  # when the target stopped on a finding).
  last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|NEW|REDUCE|pulse|INITED)' "$log" | tail -n 1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[A-Za-z]*\).*/\1/p' <<<"$last")
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  rate=$(awk -v n="$execs" -v s="$secs" 'BEGIN { if (n ~ /^[0-9]+$/ && s > 0) printf "%.0f", n / s; else print "?" }')
  artifact=$(ls -t "$build/artifacts/long-$target-"* 2>/dev/null | head -n 1 || true)
  if ((rc == 0)); then
    result="no finding"
    if [[ "$execs" =~ ^[0-9]+$ ]] && ((execs < runs)); then result="no finding (stopped at MAX_SECONDS=$max_seconds)"; fi
  elif [[ -n "$artifact" ]]; then
    result="FINDING: ${artifact#"$root/"}"
  else
    result="FAILED: exit $rc, see ${log#"$root/"}"
  fi
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$target" "$execs" "$secs" "$rate" "${cov:-?}" "${corp:-?}" "$result" \
    >"$rows/$target"
  echo "== $target: done in ${secs}s: $(cat "$rows/$target")"
  ((rc == 0))
}

failed=0
running=0
for target in "${targets[@]}"; do
  if ((running >= jobs)); then
    wait -n || failed=1
    running=$((running - 1))
  fi
  run_one "$target" &
  running=$((running + 1))
done
while ((running > 0)); do
  wait -n || failed=1
  running=$((running - 1))
done

{
  echo "| target | executions | seconds | exec/s | cov | corpus (units/size) | result |"
  echo "|---|---:|---:|---:|---:|---:|---|"
  for target in "${targets[@]}"; do cat "$rows/$target" 2>/dev/null || echo "| $target | - | - | - | - | - | did not run |"; done
} | tee "$build/fuzz_long.md"
exit "$failed"
