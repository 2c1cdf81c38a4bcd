#!/usr/bin/env bash
# tickgate beside the peer servers on the fanout scenario (see bench/README.md):
#   bench/peers/compare.sh [--quick] [--out DIR] [--peers node-ws,node-socketio,flask-socketio]
# Debian's python3: the Flask-SocketIO peer needs Debian's packages, which a pyenv python3 on PATH does not see.
exec /usr/bin/python3 "$(dirname "$0")/compare.py" "$@"
