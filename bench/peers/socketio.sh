#!/usr/bin/env bash
# tickgate's Socket.IO path beside protocol v1 and beside node socket.io (see bench/README.md):
#   bench/peers/socketio.sh [--quick] [--out DIR] [--rate 1000] [--peer-rates 1000,100] [--rounds 2]
# Debian's python3, as for compare.sh.
exec /usr/bin/python3 "$(dirname "$0")/socketio.py" "$@"
