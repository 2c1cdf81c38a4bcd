#!/usr/bin/env bash
# The NATS scale-out benchmark (see bench/README.md, "NATS: one publisher, two gateways"):
#   bench/scenarios/nats.sh [--rate N] [--symbols N] [--connections N] [--gateway-threads N] [--duration S] [--out DIR]
#                           [--mode per-topic|batched] [--flush-window-us N]
#                           [--variants MODE:US[:READER[:FEED[:COALESCE[:STORAGE]]]][,...]] [--rounds N] [--check-topics N] [--probe]
exec /usr/bin/python3 "$(dirname "$0")/nats.py" "$@"
