#!/usr/bin/python3
"""Where a bus stall is: a NATS subscriber beside the gateways, standard library only.

    bench/scenarios/nats_probe.py --port 4222 [--seconds 60] [--prefix md] [--captured] [--json PATH]

Subscribes to <prefix>.> and, once a second, prints how late the bus v1 ticker records arrived
(a v2 publisher's records are not read)
(arrival minus their ts: the publisher's clock, the same machine) with their p50, p99 and max,
beside the max round trip of its own 1-per-ms messages through the same nats-server on a subject
JetStream does not store. Records arriving late while the probe's round trips stay short: the
delay is in the publisher or in nats-server's handling of the publisher's connection, not in the
server as a whole nor in any gateway. --captured sends the probe's own messages on
<prefix>.probe.<id> instead, which the stream captures (and gateways count as foreign messages),
to time them through JetStream's path too. Stops by itself after --seconds. --json writes the
whole run's quantiles at the end (nats.py --probe reads them).
"""

import argparse
import json
import socket
import struct
import time

RECORD_SIZE = 100  # bus v1: magic, version, 98-byte ticker body (protocol/README.md)
TS_OFFSET = 12     # 2 + the body's ts at 10, signed ns, little-endian


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, required=True, help="nats-server's port on 127.0.0.1")
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--prefix", default="md")
    p.add_argument("--captured", action="store_true",
                   help="send the round-trip messages on <prefix>.probe.<id>, which the stream captures")
    p.add_argument("--json", help="write the whole run's quantiles here at the end")
    a = p.parse_args()
    probe = f"_tickgate_probe.{int(time.time_ns())}".encode()
    if a.captured:
        # On a subject the stream captures (gateways count it as a foreign message): timed like
        # the publisher's, through JetStream's path.
        probe = f"{a.prefix}.probe.{int(time.time_ns())}".encode()
    s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
    s.recv(4096)  # INFO
    subs = b"SUB %s.> 1\r\n" % a.prefix.encode() + (b"" if a.captured else b"SUB %s 2\r\n" % probe)
    s.sendall(b'CONNECT {"verbose":false}\r\n' + subs + b"PING\r\n")
    buf, late, rtt = b"", [], []
    all_late, all_rtt = [], []
    last_ping = 0
    end = time.monotonic() + a.seconds
    window = time.monotonic()
    while time.monotonic() < end:
        try:
            data = s.recv(1 << 20)
        except socket.timeout:
            continue  # nothing for 5 s: the window lines show it as a gap
        if not data:
            raise SystemExit("nats-server closed the connection")
        buf += data
        now = time.time_ns()
        if now - last_ping > 1_000_000:
            stamp = str(now).encode()
            s.sendall(b"PUB %s %d\r\n%s\r\n" % (probe, len(stamp), stamp))
            last_ping = now
        while True:
            eol = buf.find(b"\r\n")
            if eol < 0:
                break
            line = buf[:eol]
            if line.startswith(b"MSG "):
                fields = line.split()
                n = int(fields[-1])
                if len(buf) < eol + 2 + n + 2:
                    break
                body = buf[eol + 2:eol + 2 + n]
                buf = buf[eol + 2 + n + 2:]
                if fields[1] == probe:
                    rtt.append((now - int(body)) / 1e6)
                elif n == RECORD_SIZE and body[0] == 0x54 and body[1] == 1:
                    late.append((now - struct.unpack_from("<q", body, TS_OFFSET)[0]) / 1e6)
            else:
                if line == b"PING":
                    s.sendall(b"PONG\r\n")
                buf = buf[eol + 2:]
        if time.monotonic() - window >= 1.0:
            q = quantiles(late)
            if q:
                print(f"{time.strftime('%H:%M:%S')} records {len(late)}: late p50 {q['p50']:.2f} "
                      f"p99 {q['p99']:.2f} max {q['max']:.1f} ms; "
                      f"probe round trips {len(rtt)}: max {max(rtt) if rtt else float('nan'):.1f} ms", flush=True)
            all_late += late
            all_rtt += rtt
            late, rtt = [], []
            window = time.monotonic()
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"records": len(all_late), "late_ms": quantiles(all_late),
                       "round_trips": len(all_rtt), "round_trip_ms": quantiles(all_rtt)}, f)


def quantiles(values):
    if not values:
        return None
    values = sorted(values)
    return {"p50": round(values[len(values) // 2], 3), "p99": round(values[int(len(values) * 0.99)], 3),
            "max": round(values[-1], 3)}


if __name__ == "__main__":
    main()
