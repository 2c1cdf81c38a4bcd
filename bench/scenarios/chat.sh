#!/usr/bin/env bash
# The chat benchmark (see bench/README.md, "Chat"): publish-to-subscriber latency of client messages
#   bench/scenarios/chat.sh [--variants single,nats] [--rounds 3] [--duration 15] [--connections 1000]
#                           [--rate 100] [--out DIR] [--build DIR]
exec /usr/bin/python3 "$(dirname "$0")/chat.py" "$@"
