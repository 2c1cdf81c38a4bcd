#!/usr/bin/python3
"""Every orderly close of a TLS connection ends with the gateway's close_notify (RFC 8446 §6.1:
each party MUST send one before closing its write side, unless it sent an error alert); issue 19,
defect 4. A client reading with Python's ssl module and suppress_ragged_eofs=False sees the
difference: after close_notify a read returns b''; after a bare TCP FIN it raises SSLError
("unexpected eof while reading"), which is what a strict client (or a proxy) reports.

Each case runs on both write paths (--io-backend epoll and uring), against the real gateway:
a close the client starts, closes the gateway starts (1009, 1008, 1001 on drain), an HTTP reply
with Connection: close, and a 431. Usage: tls_close_notify.py --gateway PATH/tickgate
"""
import argparse
import os
import signal
import ssl
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
from raw_websocket import (Gateway as RawGateway, assert_close_notify, attempt, connect, frame, read_exact,  # noqa: E402
                           read_frame, read_until_close, upgrade)


def Gateway(binary, backend, extra=()):
    return RawGateway(binary, ["--symbols", "3", "--rate", "50", "--io-backend", backend, *extra])


def case_client_close(gw):
    s = upgrade(gw.port)
    s.sendall(frame(8, struct.pack("!H", 1000) + b"bye"))
    assert read_until_close(s) == 1000
    assert_close_notify(s, "client-initiated close")


def case_too_big(gw):
    s = upgrade(gw.port)
    s.sendall(frame(1, b"x" * 1000))  # --max-message-bytes 256
    assert read_until_close(s) == 1009
    s.sendall(frame(8, struct.pack("!H", 1009)))
    assert_close_notify(s, "1009 message too big")


def case_protocol_error(gw):
    s = upgrade(gw.port)
    s.sendall(bytes([0x80 | 0x3, 0x80]) + os.urandom(4))  # reserved opcode 3
    assert read_until_close(s) == 1002
    s.sendall(frame(8, struct.pack("!H", 1002)))
    assert_close_notify(s, "1002 protocol error")


def case_rate_limited(gw):
    s = upgrade(gw.port)
    burst = b"".join(frame(1, b'{"op":"list","id":%d}' % i) for i in range(400))  # --client-rate 5
    s.sendall(burst)
    code = read_until_close(s)
    assert code == 1008, code
    s.sendall(frame(8, struct.pack("!H", 1008)))
    assert_close_notify(s, "1008 rate")


def case_http_close(gw):
    s = connect(gw.port)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        try:
            chunk = s.recv(4096)
        except ssl.SSLError as e:
            raise AssertionError(f"HTTP reply with Connection: close: TCP closed without close_notify ({e})") from None
        if not chunk:
            break
        data += chunk
    assert data.startswith(b"HTTP/1.1 200"), data[:200]


def case_431(gw):
    s = connect(gw.port)
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * 20000 + b"\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += read_exact(s, 1)
    assert head.startswith(b"HTTP/1.1 431"), head
    body = b""
    while True:
        try:
            chunk = s.recv(4096)
        except ssl.SSLError as e:
            raise AssertionError(f"431: TCP closed without close_notify ({e})") from None
        if not chunk:
            break
        body += chunk


def case_drain(binary, backend):
    gw = Gateway(binary, backend)
    try:
        s = upgrade(gw.port)
        s.sendall(frame(1, b'{"op":"subscribe","id":1,"topics":["ticker.*"]}'))
        read_frame(s)
        gw.proc.send_signal(signal.SIGTERM)
        assert read_until_close(s) == 1001
        s.sendall(frame(8, struct.pack("!H", 1001)))
        assert_close_notify(s, "1001 on drain")
        assert gw.proc.wait(15) == 0
    finally:
        gw.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gateway", required=True)
    a = p.parse_args()
    failures = 0
    for backend in ("epoll", "uring"):
        gw = Gateway(a.gateway, backend, ["--max-message-bytes", "256", "--client-rate", "5"])
        try:
            cases = [case_client_close, case_too_big, case_protocol_error, case_rate_limited, case_http_close, case_431]
            for case in cases:
                failures += attempt(f"{backend:5} {case.__name__}", lambda: case(gw))
            # The gateway served them all and is still up.
            assert gw.proc.poll() is None, "the gateway exited: " + gw.output()
        finally:
            status = gw.stop()
            if status != 0:
                failures += 1
                print(f"FAIL {backend:5} gateway exit status {status}: {gw.output()}")
        failures += attempt(f"{backend:5} case_drain", lambda: case_drain(a.gateway, backend))
    print(f"{failures} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
