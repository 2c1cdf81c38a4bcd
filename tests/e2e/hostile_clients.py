#!/usr/bin/python3
"""Hostile clients against the real gateway (issue 19), each while a witness subscribed to
ticker.BTC-USD is read all along and must see every seq, during the case and after it:

- plain HTTP on the TLS port: refused, the gateway serves on;
- slowloris at the TLS stage (half a ClientHello, then silence) and at the HTTP stage (TLS done,
  the upgrade request a byte every 200 ms): closed at --handshake-timeout-ms, counted;
- a 10,000-ping burst on one connection: every ping answered (or the connection closed by the
  rules), the gateway responsive;
- 2,000 upgraded connections reset with RST at once: all gone from tickgate_connections within
  seconds, nothing else disturbed;
- a TLS 1.1 client (and a TLS 1.0 one): refused with the protocol_version alert;
- a TLS 1.2 WebSocket client that asks to renegotiate: refused with the no_renegotiation alert,
  which the session's write path must deliver like any record a read makes OpenSSL write;
- a burst of 1,000 requests in one write: the first ones answered in order (--client-rate's
  burst), the next refused with rate_limited, then a close with 1008; the sustained flood is
  abuse.test.mjs's (10 x --client-rate for seconds, closed with 1008).

Prints a table (family, case, result); exits 1 if any case failed.
Usage: hostile_clients.py --gateway PATH/tickgate
"""
import argparse
import json
import os
import socket
import ssl
import struct
import subprocess
import sys
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
from raw_websocket import PING, PONG, TEXT, connect, frame, ping_op, read_frame, run_cases, served, upgrade  # noqa: E402

HANDSHAKE_TIMEOUT_MS = 1500


def connections(gw):
    return gw.metrics().get("tickgate_connections", -1)


def wait_until(what, fn, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s")


def case_plain_http(gw):
    with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as s:
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(5)
        got = b""
        try:
            while chunk := s.recv(4096):
                got += chunk
        except ConnectionResetError:
            pass
        # A TLS server answers bytes that are no ClientHello with an alert (or nothing), then closes.
        assert not got.startswith(b"HTTP/"), "plain HTTP must not be served on the TLS port"
    served_again(gw)


def case_slowloris_tls(gw):
    before = gw.metrics().get('tickgate_connections_total{result="timeout"}', 0)
    t0 = time.time()
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as s:
        s.sendall(bytes.fromhex("160301"))  # the start of a TLS record, never finished
        s.settimeout(HANDSHAKE_TIMEOUT_MS / 1000 * 3)
        try:
            assert s.recv(4096) == b"", "expected the server to close"
        except ConnectionResetError:
            pass
    elapsed = time.time() - t0
    assert HANDSHAKE_TIMEOUT_MS / 1000 * 0.8 <= elapsed <= HANDSHAKE_TIMEOUT_MS / 1000 * 2.5, f"closed after {elapsed:.2f} s"
    wait_until("counted as a timeout",
               lambda: gw.metrics().get('tickgate_connections_total{result="timeout"}', 0) == before + 1, 3)


def case_slowloris_http(gw):
    before = gw.metrics().get('tickgate_connections_total{result="timeout"}', 0)
    s = connect(gw.port, timeout=10)
    request = b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    t0 = time.time()
    closed = False
    for b in request * 4:
        try:
            s.sendall(bytes([b]))
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            closed = True
            break
        time.sleep(0.2)
        if time.time() - t0 > HANDSHAKE_TIMEOUT_MS / 1000 * 3:
            break
    if not closed:
        s.settimeout(2)
        try:
            closed = s.recv(4096) == b""
        except (ConnectionResetError, ssl.SSLError):
            closed = True
        except TimeoutError:
            closed = False
    elapsed = time.time() - t0
    assert closed, f"still open after {elapsed:.1f} s of a byte every 200 ms"
    assert elapsed <= HANDSHAKE_TIMEOUT_MS / 1000 * 2.5, f"closed after {elapsed:.2f} s"
    wait_until("counted as a timeout",
               lambda: gw.metrics().get('tickgate_connections_total{result="timeout"}', 0) == before + 1, 3)


def case_ping_burst(gw):
    s = upgrade(gw.port)
    burst = b"".join(frame(PING, struct.pack("!I", i)) for i in range(10_000))
    s.sendall(burst)
    s.sendall(frame(TEXT, ping_op(77)))
    pongs, closed_code = 0, None
    s.settimeout(10)
    while True:
        op, payload = read_frame(s)
        if op == PONG:
            assert payload == struct.pack("!I", pongs), f"pong {pongs} carries {payload!r}"
            pongs += 1
        elif op == TEXT and json.loads(payload).get("type") == "pong" and json.loads(payload).get("id") == 77:
            break
        elif op == 0x8:
            closed_code = struct.unpack("!H", payload[:2])[0]
            break
    assert pongs == 10_000 or closed_code == 1008, f"{pongs} pongs, close {closed_code}"
    s.close()
    served_again(gw)


def case_reset_burst(gw):
    # The earlier cases' connections may still be closing (slowly under ASan): wait for the
    # witness alone, so the counts below are this case's.
    wait_until("only the witness connected", lambda: connections(gw) == 1)
    base = 1
    held = []
    for _ in range(2000):
        held.append(upgrade(gw.port))
    wait_until("2,000 connections open", lambda: connections(gw) >= base + 2000)
    for s in held:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # SO_LINGER 0: RST, no FIN, no close_notify
    t0 = time.time()
    wait_until("the 2,000 reset connections gone", lambda: connections(gw) <= base, 10)
    served_again(gw)
    return time.time() - t0


def case_old_tls(gw):
    for version in (ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # else this OpenSSL would not even offer it
        with warnings.catch_warnings():  # the point is to use what ssl deprecates
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ctx.maximum_version = version
        raw = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
        try:
            ctx.wrap_socket(raw).close()
            raise AssertionError(f"{version.name} was negotiated")
        except ssl.SSLError as e:
            assert "PROTOCOL_VERSION" in str(e).upper().replace(" ", "_"), f"{version.name}: {e}"
        finally:
            raw.close()
    served_again(gw)


def case_renegotiation(gw):
    # openssl s_client renegotiates on a line "R" (Python's ssl cannot); the upgrade goes first, so
    # the request reaches an open WebSocket session, not the HTTP stage.
    upgrade_request = (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{gw.port}\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n")
    p = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{gw.port}", "-tls1_2"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        p.stdin.write(upgrade_request.encode())
        p.stdin.flush()
        time.sleep(0.5)
        p.stdin.write(b"R\n")
        p.stdin.flush()
        time.sleep(1.0)
        p.stdin.close()
        try:
            p.wait(10)  # s_client ends once the refusal arrives
        except subprocess.TimeoutExpired:
            raise AssertionError("s_client still waits for an answer to its renegotiation 10 s on") from None
        out = p.stdout.read().decode(errors="replace")
    finally:
        if p.poll() is None:
            p.kill()
    assert "HTTP/1.1 101" in out, f"no upgrade: {out[-800:]}"
    assert "RENEGOTIATING" in out, f"s_client did not ask: {out[-800:]}"
    assert "no renegotiation" in out, f"the refusal did not reach the client: {out[-800:]}"
    served_again(gw)


def case_request_burst(gw):
    s = upgrade(gw.port)
    n = 1000
    s.sendall(b"".join(frame(TEXT, ping_op(i)) for i in range(n)))
    s.settimeout(10)
    answered, refused, close_code = [], [], None
    while close_code is None:
        op, payload = read_frame(s)
        if op == TEXT:
            m = json.loads(payload)
            if m.get("type") == "pong":
                answered.append(m["id"])
            elif m.get("type") == "error":
                assert m.get("code") == "rate_limited", m
                refused.append(m.get("id"))
        elif op == 0x8:
            close_code = struct.unpack("!H", payload[:2])[0]
    s.close()
    assert close_code == 1008, f"closed with {close_code}"
    assert 1 <= len(answered) <= 200, f"{len(answered)} answered: the burst allowance"
    assert answered == list(range(len(answered))), "the allowed ones are the first, in order"
    # A refusal of --client-rate carries no id: the gateway does not parse what it refuses.
    assert refused and all(r is None for r in refused), f"refusals {refused[:3]}"
    assert len(answered) + len(refused) <= n, f"{len(answered)} + {len(refused)} answers to {n} requests"
    served_again(gw)


def served_again(gw):
    s = upgrade(gw.port)
    s.sendall(frame(TEXT, ping_op(99)))
    served(s, 99)
    s.close()


CASES = [
    ("hostile", "plain HTTP on the TLS port: refused, others served", case_plain_http),
    ("hostile", f"slowloris at the TLS stage: closed at --handshake-timeout-ms ({HANDSHAKE_TIMEOUT_MS}), counted",
     case_slowloris_tls),
    ("hostile", "slowloris at the HTTP stage (a byte every 200 ms): closed at the handshake timeout, counted",
     case_slowloris_http),
    ("hostile", "10,000 pings in one burst: every one answered in order (or 1008), others served", case_ping_burst),
    ("hostile", "2,000 upgraded connections reset (RST) at once: all released, others served", case_reset_burst),
    ("hostile", "TLS 1.1 and TLS 1.0 clients: refused with protocol_version, others served", case_old_tls),
    ("hostile", "TLS 1.2 renegotiation asked on an open WebSocket: refused with no_renegotiation, others served",
     case_renegotiation),
    ("hostile", "1,000 requests in one write: the burst answered, the rest rate_limited, then 1008",
     case_request_burst),
]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gateway", required=True)
    a = p.parse_args()
    return run_cases(a.gateway, ["--symbols", "3", "--rate", "30", "--handshake-timeout-ms", str(HANDSHAKE_TIMEOUT_MS),
                      "--max-connections-per-ip", "5000", "--max-connections", "5000"], CASES)


if __name__ == "__main__":
    sys.exit(main())
