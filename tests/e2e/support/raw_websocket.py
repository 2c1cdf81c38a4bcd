"""A WebSocket client made by hand (no WebSocket library), over Python's ssl, for tests that must
send what no library would: odd length encodings, reserved bits, broken fragmentation, bad
UTF-8, close codes of every range. And the real gateway, started on a free loopback port.

Debian's python3 and the standard library only."""
import base64
import json
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time

CLIENT = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
CLIENT.check_hostname = False
CLIENT.verify_mode = ssl.CERT_NONE
# Python sets OP_IGNORE_UNEXPECTED_EOF by default, which reads a bare FIN as a clean end: clear it.
CLIENT.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF

TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0


class Gateway:
    """tickgate on 127.0.0.1:0 with one worker and its simulator; `port` once it listens."""

    def __init__(self, binary, args=()):
        # The suite's second pass runs on --io-backend epoll (scripts/test.sh), unless a test names one.
        backend = os.environ.get("TICKGATE_IO_BACKEND")
        if backend and "--io-backend" not in args:
            args = [*args, "--io-backend", backend]
        self.state = tempfile.mkdtemp(prefix="tickgate-raw-ws-")
        self.log = open(os.path.join(self.state, "gateway.log"), "w+")
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--threads", "1",
             "--state-dir", self.state, *args],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while time.time() < deadline:
            self.log.seek(0)
            text = self.log.read()
            m = re.search(r"listening on wss://127\.0\.0\.1:(\d+)/ws", text)
            metrics = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", text)
            if m and metrics:
                self.port = int(m.group(1))
                self.metrics_port = int(metrics.group(1))
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("the gateway did not start: " + self.output())

    def metrics(self):
        """/metrics as {name{labels}: value}."""
        with socket.create_connection(("127.0.0.1", self.metrics_port), timeout=5) as c:
            c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := c.recv(65536):
                data += chunk
        out = {}
        for line in data.split(b"\r\n\r\n", 1)[1].decode().splitlines():
            name, _, value = line.rpartition(" ")
            if name and not line.startswith("#"):
                try:
                    out[name] = float(value)
                except ValueError:
                    pass  # a chunk-size line of a chunked body
        return out

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


def connect(port, timeout=5):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    # Without it Nagle holds the upgrade request behind the handshake's last flight until the
    # server's delayed ACK: 40 ms a connection.
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return CLIENT.wrap_socket(raw, suppress_ragged_eofs=False)


def read_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise AssertionError(f"connection ended after {len(out)} of {n} bytes")
        out += chunk
    return out


def upgrade(port, path="/ws"):
    """A TLS connection upgraded to WebSocket; the welcome message is left unread."""
    s = connect(port)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += read_exact(s, 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return s


def frame(opcode, payload=b"", fin=True, rsv=0, masked=True, length_form=None, length=None):
    """One client frame. length_form 7, 16 or 64 forces the length encoding; `length` overrides
    the length written (the payload sent stays `payload`)."""
    n = len(payload) if length is None else length
    form = length_form or (7 if n < 126 else 16 if n < 65536 else 64)
    head = bytes([(0x80 if fin else 0) | (rsv & 0x7) << 4 | opcode])
    mask_bit = 0x80 if masked else 0
    if form == 7:
        head += bytes([mask_bit | n])
    elif form == 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_frame(s):
    """(opcode, payload) of the next server frame."""
    b0, b1 = read_exact(s, 2)
    assert b1 & 0x80 == 0, "a server frame must not be masked"
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", read_exact(s, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", read_exact(s, 8))[0]
    return b0 & 0x0F, read_exact(s, n)


def read_until(s, want):
    """Skips frames until `want(opcode, payload)` holds; returns that frame."""
    while True:
        opcode, payload = read_frame(s)
        if want(opcode, payload):
            return opcode, payload


def read_until_close(s):
    """The code of the server's close frame (None if it carried none), skipping frames before it."""
    _, payload = read_until(s, lambda op, _: op == CLOSE)
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


def assert_close_notify(s, what):
    """The next read must be the end of a TLS stream closed with close_notify."""
    try:
        rest = s.recv(4096)
    except ssl.SSLError as e:
        raise AssertionError(f"{what}: TCP closed without close_notify ({e})") from None
    assert rest == b"", f"{what}: {len(rest)} more bytes after the close, expected the end of the stream"


def ping_op(n, pad=0):
    return json.dumps({"op": "ping", "id": n}).encode() + b" " * pad


def is_pong_reply(n):
    def want(op, payload):
        if op != TEXT:
            return False
        m = json.loads(payload)
        return m.get("type") == "pong" and m.get("id") == n
    return want


def served(s, n):
    """The v1 reply to ping op `n` arrives: the connection is fine."""
    read_until(s, is_pong_reply(n))


class Witness(threading.Thread):
    """A client on ticker.BTC-USD read all along (it answers the server's pings, as any client
    does), so its seqs can be checked after every case."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.s = upgrade(port)
        self.s.sendall(frame(TEXT, b'{"op":"subscribe","id":1,"topics":["ticker.BTC-USD"]}'))
        self.seqs, self.error, self.stopping = [], None, False
        self.s.settimeout(0.5)

    def run(self):
        while not self.stopping:
            try:
                op, payload = read_frame(self.s)
            except TimeoutError:
                continue
            except (OSError, AssertionError) as e:
                self.error = e
                return
            if op == PING:
                self.s.sendall(frame(PONG, payload))
            elif op == TEXT:
                m = json.loads(payload)
                if m.get("topic") == "ticker.BTC-USD" and not m.get("snapshot"):
                    self.seqs.append(m["seq"])

    def check(self, seconds):
        self.stopping = True
        self.join(5)
        assert self.error is None, f"the witness's connection failed: {self.error}"
        assert len(self.seqs) >= 10 * seconds * 0.5 / 3, f"witness got {len(self.seqs)} messages in {seconds:.0f} s"
        gaps = [(a, b) for a, b in zip(self.seqs, self.seqs[1:]) if b != a + 1]
        assert not gaps, f"witness seq gaps: {gaps[:5]}"
        return len(self.seqs)


def attempt(name, fn):
    """Runs fn(); prints "ok   name[: what fn returned]" or "FAIL name: why". 0 when it passed, else 1."""
    try:
        said = fn()
    except (AssertionError, OSError) as e:
        print(f"FAIL {name}: {e}")
        return 1
    print(f"ok   {name}" + (f": {said}" if said else ""))
    return 0


def run_cases(binary, args, cases):
    """Starts the gateway with `args`, a witness on it, then runs every (family, name, fn(gw)) case;
    prints the table (family, case, result) with the witness's and the gateway's own rows.
    Returns the exit status: 1 if any row failed."""
    gw = Gateway(binary, args)
    rows, failures = [], 0
    try:
        witness = Witness(gw.port)
        witness.start()
        started = time.time()
        for family, name, fn in cases:
            t0 = time.time()
            try:
                fn(gw)
                rows.append((family, name, f"ok ({time.time() - t0:.1f} s)"))
            except (AssertionError, OSError, ValueError) as e:
                failures += 1
                rows.append((family, name, f"FAIL: {e!r}"))
        time.sleep(0.5)  # what the last case might have disturbed reaches the witness
        try:
            n = witness.check(time.time() - started)
            rows.append(("witness", f"ticker.BTC-USD gap-free during and after every case ({n} messages)", "ok"))
        except AssertionError as e:
            failures += 1
            rows.append(("witness", "ticker.BTC-USD gap-free throughout", f"FAIL: {e}"))
        alive = gw.proc.poll() is None
        rows.append(("gateway", "still running after every case", "ok" if alive else "FAIL"))
        failures += not alive
    finally:
        status = gw.stop()
    if status != 0:
        failures += 1
        rows.append(("gateway", f"exit status {status}", "FAIL: " + gw.output()))
    for family, name, result in rows:
        print(f"| {family} | {name} | {result} |")
    print(f"{failures} failed of {len(rows)}" if failures else f"all {len(rows)} passed")
    return 1 if failures else 0
