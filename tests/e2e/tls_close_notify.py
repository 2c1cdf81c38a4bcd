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
import base64
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

CLIENT = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
CLIENT.check_hostname = False
CLIENT.verify_mode = ssl.CERT_NONE
# Python sets OP_IGNORE_UNEXPECTED_EOF by default, which reads a bare FIN as a clean end: clear it.
CLIENT.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF


class Gateway:
    def __init__(self, binary, backend, extra=()):
        self.state = tempfile.mkdtemp(prefix="tickgate-close-notify-")
        self.log = open(os.path.join(self.state, "gateway.log"), "w+")
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--threads", "1",
             "--state-dir", self.state, "--symbols", "3", "--rate", "50", "--io-backend", backend, *extra],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while time.time() < deadline:
            self.log.seek(0)
            m = re.search(r"listening on wss://127\.0\.0\.1:(\d+)/ws", self.log.read())
            if m:
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("the gateway did not start: " + self.output())

    def output(self):
        self.log.seek(0)
        return self.log.read()[-3000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def connect(port):
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    return CLIENT.wrap_socket(raw, suppress_ragged_eofs=False)


def read_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise AssertionError(f"connection ended after {len(out)} of {n} bytes")
        out += chunk
    return out


def upgrade(port):
    s = connect(port)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += read_exact(s, 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return s


def frame(opcode, payload):
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | opcode])
    head += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n) if n < 65536 else \
        bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_frame(s):
    b0, b1 = read_exact(s, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", read_exact(s, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", read_exact(s, 8))[0]
    return b0 & 0x0F, read_exact(s, n)


def read_until_close(s):
    """The code of the server's close frame, skipping the data frames before it."""
    while True:
        opcode, payload = read_frame(s)
        if opcode == 8:
            return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None


def assert_close_notify(s, what):
    """The next read must be the end of a TLS stream closed with close_notify."""
    try:
        rest = s.recv(4096)
    except ssl.SSLError as e:
        raise AssertionError(f"{what}: TCP closed without close_notify ({e})") from None
    assert rest == b"", f"{what}: {len(rest)} more bytes after the close, expected the end of the stream"


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
                try:
                    case(gw)
                    print(f"ok   {backend:5} {case.__name__}")
                except (AssertionError, OSError) as e:
                    failures += 1
                    print(f"FAIL {backend:5} {case.__name__}: {e}")
            # The gateway served them all and is still up.
            assert gw.proc.poll() is None, "the gateway exited: " + gw.output()
        finally:
            status = gw.stop()
            if status != 0:
                failures += 1
                print(f"FAIL {backend:5} gateway exit status {status}: {gw.output()}")
        try:
            case_drain(a.gateway, backend)
            print(f"ok   {backend:5} case_drain")
        except (AssertionError, OSError) as e:
            failures += 1
            print(f"FAIL {backend:5} case_drain: {e}")
    print(f"{failures} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
