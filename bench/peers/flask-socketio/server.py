#!/usr/bin/python3
"""Peer server: Flask-SocketIO (python-socketio) under gevent with gevent-websocket, a room per topic.
A client emits `subscribe` with a list of topics, joins those rooms and gets `subscribed` back;
every update is emitted to its topic's room as a `ticker` event with tickgate's update fields.

Run with Debian's interpreter (the pyenv `python3` on PATH does not see Debian's packages):
    /usr/bin/python3 bench/peers/flask-socketio/server.py --cert CERT --key KEY [--port 0] [--symbols 100] [--rate 1000]
prints "listening on wss://127.0.0.1:PORT/socket.io/" on stderr once ready."""

from gevent import monkey

monkey.patch_all()  # before anything imports socket or ssl

import argparse  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402
from flask import Flask  # noqa: E402
from flask_socketio import SocketIO, emit, join_room  # noqa: E402
from gevent import pywsgi  # noqa: E402
from geventwebsocket.handler import WebSocketHandler  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from sim import Simulator  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--cert", required=True)
parser.add_argument("--key", required=True)
parser.add_argument("--symbols", type=int, default=100)
parser.add_argument("--rate", type=float, default=1000)
parser.add_argument("--seed", type=int, default=1)
args = parser.parse_args()

sim = Simulator(args.symbols, args.rate, args.seed)
known = set(sim.topics)

app = Flask(__name__)
socketio = SocketIO(app, async_mode="gevent", cors_allowed_origins="*", max_http_buffer_size=4096)


@socketio.on("subscribe")
def on_subscribe(topics):
    if not isinstance(topics, list):
        return
    valid = [t for t in topics if t in known]
    for t in valid:
        join_room(t)
    emit("subscribed", {"topics": valid})


def feed():
    sim.run(lambda u: socketio.emit("ticker", u, to=u["topic"]), gevent.sleep)


# What socketio.run() does under gevent, but with our own server object so that port 0 can be
# reported once bound.
server = pywsgi.WSGIServer((args.host, args.port), app, handler_class=WebSocketHandler, log=None,
                           certfile=args.cert, keyfile=args.key)
server.start()
print("listening on wss://%s:%d/socket.io/" % (args.host, server.server_port), file=sys.stderr, flush=True)
socketio.start_background_task(feed)
gevent.signal_handler(signal.SIGTERM, server.stop)
gevent.signal_handler(signal.SIGINT, server.stop)
server.serve_forever()
