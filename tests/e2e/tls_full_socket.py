#!/usr/bin/python3
"""A client that stops reading until the gateway's socket to it is full, then reads on, gets every
byte: each TLS record decrypts (Python's ssl raises on a lost, repeated or reordered byte) and
every update of every topic arrives once, in order. This is the write path's partial-send and
EAGAIN handling seen from outside, on both write paths (--io-backend epoll and uring) and both
ways records are made: sealed by the gateway (TLS 1.3) and by SSL_write (TLS 1.2). Beside it a
witness that reads all along must see its own updates gap-free, at the feed's pace.

Usage: tls_full_socket.py --gateway PATH/tickgate
"""
import argparse
import json
import os
import socket
import ssl
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
from raw_websocket import PING, PONG, TEXT, Gateway, Witness, attempt, frame, read_exact  # noqa: E402

RATE = 10000  # updates/s over 5 topics, all of which the stalled client takes: ~3 MB/s
PAUSE_S = 3.0


def connect_small_window(port, version):
    """TLS at exactly `version` over a socket whose receive buffer is a few KiB, so the gateway's
    side fills within milliseconds of the client not reading."""
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    raw.settimeout(5)
    raw.connect(("127.0.0.1", port))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = version
    s = ctx.wrap_socket(raw, suppress_ragged_eofs=False)
    s.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += read_exact(s, 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return s


def read_for(s, seconds, seqs, pending):
    """Reads for `seconds`, answering pings, appending (topic, seq) of live updates. Reads in
    large chunks and parses frames from `pending` (carried between calls): a read per frame would
    be slower than the feed."""
    end = time.time() + seconds
    s.settimeout(0.2)
    while time.time() < end:
        try:
            chunk = s.recv(1 << 20)
        except TimeoutError:
            continue
        if not chunk:
            raise AssertionError("the gateway closed the connection")
        pending += chunk
        at = 0
        while len(pending) - at >= 2:
            op, n, head = pending[at] & 0x0F, pending[at + 1] & 0x7F, 2
            if n == 126:
                if len(pending) - at < 4:
                    break
                n, head = struct.unpack_from("!H", pending, at + 2)[0], 4
            elif n == 127:
                if len(pending) - at < 10:
                    break
                n, head = struct.unpack_from("!Q", pending, at + 2)[0], 10
            if len(pending) - at < head + n:
                break
            payload = bytes(pending[at + head:at + head + n])
            at += head + n
            if op == PING:
                s.sendall(frame(PONG, payload))
            elif op == TEXT:
                m = json.loads(payload)
                if m.get("type") == "error":
                    raise AssertionError(f"error from the gateway: {m}")
                if "seq" in m and "topic" in m and not m.get("snapshot"):
                    seqs.append((m["topic"], m["seq"]))
        del pending[:at]


def case(binary, backend, version):
    gw = Gateway(binary, ["--symbols", "5", "--rate", str(RATE), "--io-backend", backend,
                          "--max-queue-bytes", str(64 << 20)])
    try:
        witness = Witness(gw.port)
        witness.start()
        s = connect_small_window(gw.port, version)
        assert s.version() == ("TLSv1.3" if version == ssl.TLSVersion.TLSv1_3 else "TLSv1.2"), s.version()
        s.sendall(frame(TEXT, b'{"op":"subscribe","id":1,"topics":["ticker.*"]}'))
        seqs, pending = [], bytearray()
        read_for(s, 0.5, seqs, pending)
        before = gw.metrics()
        time.sleep(PAUSE_S)  # not reading: the socket fills, then the gateway's queue grows
        read_for(s, 3.0, seqs, pending)
        after = gw.metrics()
        witness.check(5)

        by_topic = {}
        for topic, seq in seqs:
            by_topic.setdefault(topic, []).append(seq)
        assert len(by_topic) == 5, f"updates of {sorted(by_topic)}, expected the 5 tickers"
        for topic, got in by_topic.items():
            gaps = [(a, b) for a, b in zip(got, got[1:]) if b != a + 1]
            assert not gaps, f"{topic}: seq gaps or repeats {gaps[:5]} in {len(got)} updates"
        # What queued behind the full socket arrived (the rest of the read keeps up, or not).
        assert len(seqs) >= RATE * PAUSE_S / 2, f"{len(seqs)} updates in {3.5 + PAUSE_S} s at {RATE}/s"
        # The stall was real: a write waited longer than a second for the socket to take it.
        stage = 'tickgate_latency_stage_seconds_{}{{stage="write"{}}}'
        waited = after[stage.format("count", "")] - after[stage.format("bucket", ',le="1"')]
        assert waited >= 1, "no write waited for the socket: the stall did not fill it"
        assert after["tickgate_messages_conflated_total"] == 0, "nothing may be conflated below the queue limit"
        sealed = after["tickgate_tls_sealed_connections_total"]
        # The witness is TLS 1.3: sealed on either backend.
        assert sealed == (2 if version == ssl.TLSVersion.TLSv1_3 else 1), f"sealed connections: {sealed}"
        s.close()
        assert gw.proc.poll() is None, "the gateway exited: " + gw.output()
    finally:
        status = gw.stop()
    assert status == 0, f"gateway exit status {status}: {gw.output()}"
    return len(seqs)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gateway", required=True)
    a = p.parse_args()
    failures = 0
    for backend in ("epoll", "uring"):
        for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
            failures += attempt(f"{backend:5} {version.name}",
                                lambda: f"{case(a.gateway, backend, version)} updates in order after a {PAUSE_S} s stall")
    print(f"{failures} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
