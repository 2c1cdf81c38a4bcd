#!/usr/bin/env bash
# Installs what tickgate needs to build and test on Debian 12, skipping what is already there.
# Safe to run again: the second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates openssl curl
  libboost1.81-dev libboost-system1.81-dev libboost-program-options1.81-dev
  libssl-dev rapidjson-dev prometheus-cpp-dev libbenchmark-dev libgtest-dev libgmock-dev
  libnats-dev nats-server liburing-dev libdeflate-dev zlib1g-dev libjwt-dev
  nodejs npm
)
if [[ "${TICKGATE_SETUP_TEST:-0}" == 1 ]]; then
  # Test-only tools: clang's libFuzzer for the fuzz targets, Chromium for the browser tests;
  # promtool (prometheus), python3-yaml and haproxy for the deploy/ checks (tests/deploy/).
  packages+=(clang libclang-rt-14-dev chromium prometheus python3-yaml haproxy)
fi

# --- Benchmark-only (optional): bench/scenarios, bench/peers and bench/report need these. ---
if [[ "${TICKGATE_SETUP_BENCH:-0}" == 1 ]]; then
  # gnuplot draws the report's PNGs; Flask-SocketIO under gevent (with its websocket transport)
  # is one of the peer servers, run with Debian's /usr/bin/python3.
  packages+=(gnuplot-nox python3-flask-socketio python3-gevent python3-gevent-websocket)
fi
# --- end of benchmark-only packages ---

missing=()
for p in "${packages[@]}"; do
  # nodejs/npm may come from elsewhere (a newer Node on PATH is fine).
  if [[ "$p" == nodejs || "$p" == npm ]] && command -v "${p/nodejs/node}" >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  # nats-server, prometheus and haproxy ship services that apt would start on a systemd machine,
  # listening on every interface. We only want their programs: forbid service starts during the
  # install (Debian's policy-rc.d convention), unless the machine already has a policy of its own.
  policy=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    trap '$SUDO rm -f "$policy"' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  if [[ -n "$policy" ]]; then $SUDO rm -f "$policy"; trap - EXIT; fi
fi

if [[ "${TICKGATE_SETUP_TEST:-0}" == 1 ]]; then
  # npm clients for the end-to-end tests, exactly as locked.
  if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
fi

# --- Benchmark-only (optional): the npm peer servers (ws, socket.io), exactly as locked. ---
if [[ "${TICKGATE_SETUP_BENCH:-0}" == 1 ]]; then
  if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
fi
# --- end of benchmark-only npm packages ---
