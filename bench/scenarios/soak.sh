#!/usr/bin/env bash
# The soak (see bench/README.md, "Soak"): an hour at half the fanout load with churning and
# stalled clients, the gateway's RSS and descriptors sampled every minute:
#   bench/scenarios/soak.sh [--duration-min 60] [--sample-s 60] [--clients 500] [--rate 1000]
#                           [--churners N] [--stalled N] [--build DIR | --tickgate BIN --load BIN] [--out DIR]
exec /usr/bin/python3 "$(dirname "$0")/soak.py" "$@"
