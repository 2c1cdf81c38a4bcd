#!/usr/bin/env bash
# Installs what is missing, builds a Release build and starts tickgate on its defaults
# (simulator feed, self-signed certificate, wss://127.0.0.1:8443/ws, metrics on :9464).
# Extra arguments go to tickgate, e.g. scripts/run.sh --symbols 50 --rate 5000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
build=${TICKGATE_BUILD_DIR:-build}
[[ -f "$build/build.ninja" ]] || cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTICKGATE_TESTS=OFF -DTICKGATE_BENCH=OFF >/dev/null
cmake --build "$build" --target tickgate -j"$(nproc)"
exec "$build/tickgate" "$@"
