#!/usr/bin/env bash
# Installs what is missing, builds a Release build and starts tickgate on its defaults
# (simulator feed, self-signed certificate, wss://127.0.0.1:8443/ws, metrics on :9464).
# Extra arguments go to tickgate, e.g. scripts/run.sh --symbols 50 --rate 5000.
# The simulator's order books and trades are on (--book-rate 1000 --trade-rate 200) unless the
# arguments, or a --config file they name, set them: --book-rate 0 --trade-rate 0 is tickers only.
# Client publishing on the chat channel is on too (--publish-channels chat: the live page's chat
# panel on chat.lobby) unless they set --publish-channels: --publish-channels '' turns it off.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
build=${TICKGATE_BUILD_DIR:-build}
[[ -f "$build/build.ninja" ]] || cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_UNITY_BUILD=ON -DTICKGATE_TESTS=OFF -DTICKGATE_BENCH=OFF >/dev/null
cmake --build "$build" --target tickgate -j"$(nproc)"

# Which of the demo's defaults the user set, on the command line or in a --config file.
has_book_rate=0 has_trade_rate=0 has_publish=0 config=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --book-rate|--book-rate=*) has_book_rate=1 ;;
    --trade-rate|--trade-rate=*) has_trade_rate=1 ;;
    --publish-channels|--publish-channels=*) has_publish=1 ;;
    --config) config="${args[i + 1]:-}" ;;
    --config=*) config="${args[i]#--config=}" ;;
  esac
done
if [[ -n "$config" && -r "$config" ]]; then
  grep -Eq '^[[:space:]]*book-rate[[:space:]]*=' "$config" && has_book_rate=1
  grep -Eq '^[[:space:]]*trade-rate[[:space:]]*=' "$config" && has_trade_rate=1
  grep -Eq '^[[:space:]]*publish-channels[[:space:]]*=' "$config" && has_publish=1
fi
defaults=()
((has_book_rate)) || defaults+=(--book-rate 1000)
((has_trade_rate)) || defaults+=(--trade-rate 200)
if ((${#defaults[@]})); then
  echo >&2 "run.sh: simulator order books and trades on: ${defaults[*]} (pass your own --book-rate/--trade-rate to change; 0 turns them off)"
fi
if ((!has_publish)); then
  defaults+=(--publish-channels chat)
  echo >&2 "run.sh: client publishing on: --publish-channels chat (the live page's chat panel on chat.lobby; --publish-channels '' turns it off)"
fi
exec "$build/tickgate" "${defaults[@]}" "$@"
