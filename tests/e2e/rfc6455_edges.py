#!/usr/bin/python3
"""RFC 6455 edge cases against the real gateway, with frames built by hand (support/raw_websocket.py,
no WebSocket library), one family per group (issue 19): framing and length encodings, control
frames, reserved bits and opcodes, fragmentation, UTF-8 validity, close handling. Each case runs on
a connection of its own and checks what the RFC asks: the message is served, or the connection is
closed with the right code (1002 protocol error, 1007 invalid UTF-8, 1009 too big) and TLS
close_notify. Throughout, a witness subscribed to ticker.BTC-USD must see every seq.

Prints a table (family, case, result) and exits 1 if any case failed.
Usage: rfc6455_edges.py --gateway PATH/tickgate
"""
import argparse
import json
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
from raw_websocket import (BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT, assert_close_notify,  # noqa: E402
                           close_payload, frame, ping_op, read_frame, read_until, read_until_close, run_cases,
                           served, upgrade)

MAX_MESSAGE = 100_000  # --max-message-bytes: room for a 64-bit-length message below it


def closed_with(s, code, what):
    got = read_until_close(s)
    assert got == code, f"{what}: closed with {got}, expected {code}"
    s.sendall(frame(CLOSE, close_payload(code if code not in (1005, 1006) else 1000)))
    assert_close_notify(s, what)


def case(family, name):
    def register(fn):
        CASES.append((family, name, fn))
        return fn
    return register


CASES = []

# ---- framing and length encodings ----


@case("framing", "7-bit length: served")
def _(port):
    s = upgrade(port)
    s.sendall(frame(TEXT, ping_op(1), length_form=7))
    served(s, 1)


@case("framing", "16-bit length (a 300-byte message): served")
def _(port):
    s = upgrade(port)
    s.sendall(frame(TEXT, ping_op(2, pad=280)))
    served(s, 2)


@case("framing", "64-bit length (a 70,000-byte message): served")
def _(port):
    s = upgrade(port)
    s.sendall(frame(TEXT, ping_op(3, pad=70_000)))
    served(s, 3)


@case("framing", "64-bit length with the most significant bit set: 1002")
def _(port):
    s = upgrade(port)
    s.sendall(frame(TEXT, b"", length_form=64, length=1 << 63))
    closed_with(s, 1002, "MSB set")


@case("framing", "a 2^63-1 length: 1009 (over --max-message-bytes), not a wait for the bytes")
def _(port):
    s = upgrade(port)
    s.sendall(frame(TEXT, b"", length_form=64, length=(1 << 63) - 1))
    closed_with(s, 1009, "2^63-1")


@case("framing", "an unmasked client frame: 1002")
def _(port):
    s = upgrade(port)
    s.sendall(frame(TEXT, ping_op(4), masked=False))
    closed_with(s, 1002, "unmasked")


# ---- control frames ----


@case("control", "a ping with 126 bytes of payload: 1002")
def _(port):
    s = upgrade(port)
    s.sendall(frame(PING, b"p" * 126))
    closed_with(s, 1002, "ping of 126 bytes")


@case("control", "a fragmented ping (FIN clear): 1002")
def _(port):
    s = upgrade(port)
    s.sendall(frame(PING, b"abc", fin=False))
    closed_with(s, 1002, "fragmented ping")


@case("control", "an unsolicited pong: ignored, the connection serves on")
def _(port):
    s = upgrade(port)
    s.sendall(frame(PONG, b"unasked") + frame(TEXT, ping_op(5)))
    served(s, 5)


@case("control", "a ping between the fragments of a message: its pong comes, then the message is served")
def _(port):
    s = upgrade(port)
    msg = ping_op(6)
    s.sendall(frame(TEXT, msg[:5], fin=False) + frame(PING, b"mid") + frame(CONTINUATION, msg[5:]))
    op, payload = read_until(s, lambda op, p: op == PONG or (op == TEXT and b'"pong"' in p))
    assert (op, payload) == (PONG, b"mid"), f"the pong first, got {op} {payload[:60]}"
    served(s, 6)


@case("control", "a ping with a 125-byte payload: its pong echoes it")
def _(port):
    s = upgrade(port)
    s.sendall(frame(PING, b"q" * 125))
    _, payload = read_until(s, lambda op, _: op == PONG)
    assert payload == b"q" * 125


# ---- reserved bits and opcodes ----

for bit in (1, 2, 3):
    def rsv_case(port, bit=bit):
        s = upgrade(port)
        s.sendall(frame(TEXT, ping_op(7), rsv=1 << (3 - bit)))
        closed_with(s, 1002, f"RSV{bit}")
    CASES.append(("reserved", f"RSV{bit} set (no extension negotiated): 1002", rsv_case))

for opcode in (0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF):
    def opcode_case(port, opcode=opcode):
        s = upgrade(port)
        s.sendall(frame(opcode, b"x"))
        closed_with(s, 1002, f"opcode {opcode:#x}")
    CASES.append(("reserved", f"reserved opcode {opcode:#x}: 1002", opcode_case))


# ---- fragmentation ----


@case("fragmentation", "a continuation with no message started: 1002")
def _(port):
    s = upgrade(port)
    s.sendall(frame(CONTINUATION, ping_op(8)))
    closed_with(s, 1002, "lone continuation")


@case("fragmentation", "a new data frame inside a fragmented message: 1002")
def _(port):
    s = upgrade(port)
    s.sendall(frame(TEXT, b'{"op":', fin=False) + frame(TEXT, ping_op(9)))
    closed_with(s, 1002, "data frame inside a fragmented message")


@case("fragmentation", "fragments split inside a UTF-8 character: served")
def _(port):
    s = upgrade(port)
    msg = b'{"op":"ping","id":10,"note":"\xe2\x82\xac"}'
    cut = msg.index(b"\xe2") + 1
    s.sendall(frame(TEXT, msg[:cut], fin=False) + frame(CONTINUATION, msg[cut:cut + 1], fin=False) +
              frame(CONTINUATION, msg[cut + 1:]))
    served(s, 10)


@case("fragmentation", "fragments each under --max-message-bytes, together over it: 1009")
def _(port):
    s = upgrade(port)
    part = b" " * (MAX_MESSAGE // 2 + 1)
    s.sendall(frame(TEXT, b'{"op":"ping","id":11}' + part, fin=False) + frame(CONTINUATION, part))
    closed_with(s, 1009, "size across fragments")


@case("fragmentation", "a binary message: bad_request, the connection serves on")
def _(port):
    s = upgrade(port)
    s.sendall(frame(BINARY, b"\x00\x01") + frame(TEXT, ping_op(12)))
    _, payload = read_until(s, lambda op, p: op == TEXT and b'"error"' in p)
    assert json.loads(payload)["code"] == "bad_request"
    served(s, 12)


# ---- UTF-8 validity ----

for label, bad in (("an overlong encoding (C0 AF)", b"\xc0\xaf"), ("a surrogate (ED A0 80)", b"\xed\xa0\x80"),
                   ("above U+10FFFF (F4 90 80 80)", b"\xf4\x90\x80\x80"), ("a lone continuation byte (80)", b"\x80")):
    def utf8_case(port, bad=bad, label=label):
        s = upgrade(port)
        s.sendall(frame(TEXT, b'{"op":"ping","id":13,"x":"' + bad + b'"}'))
        closed_with(s, 1007, label)
    CASES.append(("utf-8", f"{label}: 1007", utf8_case))


@case("utf-8", "a character truncated at the end of the message (E2 82): 1007")
def _(port):
    s = upgrade(port)
    s.sendall(frame(TEXT, b'{"op":"ping","id":14}\xe2\x82'))
    closed_with(s, 1007, "truncated at the end")


@case("utf-8", "4-byte characters (U+1F600) split over three fragments: served")
def _(port):
    s = upgrade(port)
    msg = b'{"op":"ping","id":15,"x":"\xf0\x9f\x98\x80"}'
    at = msg.index(b"\xf0")
    s.sendall(frame(TEXT, msg[:at + 1], fin=False) + frame(CONTINUATION, msg[at + 1:at + 3], fin=False) +
              frame(CONTINUATION, msg[at + 3:]))
    served(s, 15)


# ---- close handling ----

for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 2999):
    def bad_code(port, code=code):
        s = upgrade(port)
        s.sendall(frame(CLOSE, close_payload(code)))
        closed_with(s, 1002, f"close code {code}")
    CASES.append(("close", f"close code {code}: 1002", bad_code))

for code in (1000, 1001, 1003, 1007, 1011, 3000, 4000, 4999):
    def good_code(port, code=code):
        s = upgrade(port)
        s.sendall(frame(CLOSE, close_payload(code, b"bye")))
        got = read_until_close(s)
        assert got == code, f"close code {code}: answered {got}, expected the code echoed"
        assert_close_notify(s, f"close {code}")
    CASES.append(("close", f"close code {code}: echoed, TCP and TLS closed", good_code))


@case("close", "an empty close: answered with a close (empty or 1000: nothing to echo)")
def _(port):
    s = upgrade(port)
    s.sendall(frame(CLOSE, b""))
    _, payload = read_until(s, lambda op, _: op == CLOSE)
    assert payload in (b"", struct.pack("!H", 1000)), payload
    assert_close_notify(s, "empty close")


@case("close", "a 1-byte close payload: 1002")
def _(port):
    s = upgrade(port)
    s.sendall(frame(CLOSE, b"\x03"))
    closed_with(s, 1002, "1-byte close")


@case("close", "a 124-byte reason (a 126-byte control frame): 1002")
def _(port):
    s = upgrade(port)
    s.sendall(frame(CLOSE, close_payload(1000, b"r" * 124)))
    closed_with(s, 1002, "124-byte reason")


@case("close", "a 123-byte reason: echoed")
def _(port):
    s = upgrade(port)
    s.sendall(frame(CLOSE, close_payload(1000, b"r" * 123)))
    assert read_until_close(s) == 1000
    assert_close_notify(s, "123-byte reason")


@case("close", "invalid UTF-8 in the reason: 1007")
def _(port):
    s = upgrade(port)
    s.sendall(frame(CLOSE, close_payload(1000, b"bad \xff reason")))
    closed_with(s, 1007, "bad reason")


@case("close", "frames after the close: not served")
def _(port):
    s = upgrade(port)
    s.sendall(frame(CLOSE, close_payload(1000)) + frame(TEXT, ping_op(16)) + frame(PING, b"late"))
    while True:
        op, payload = read_frame(s)
        assert op not in (PONG,) and not (op == TEXT and b'"pong"' in payload), "a frame after the close was served"
        if op == CLOSE:
            break
    assert_close_notify(s, "frames after close")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gateway", required=True)
    a = p.parse_args()
    return run_cases(a.gateway, ["--symbols", "3", "--rate", "30", "--max-message-bytes", str(MAX_MESSAGE),
                      "--client-rate", "1000"], [(f, n, lambda gw, fn=fn: fn(gw.port)) for f, n, fn in CASES])


if __name__ == "__main__":
    sys.exit(main())
