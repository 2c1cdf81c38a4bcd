"""The Python peers' copy of tickgate's market simulator (see sim.mjs and feeds/simulator_feed.cpp):
the same pairs, random walk, fields, order and decimals, so an update is the same JSON as tickgate's.
Pacing: update k is due at start + k / rate; more than a tenth of a second behind, the schedule
restarts instead of catching up in one burst."""

import json
import os
import random
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(_HERE, "symbols.json")) as f:
    PAIRS = json.load(f)["pairs"]
TYPICAL_TRADE_USD = 2000
VOLUME_WINDOW_TRADES = 100000


def decimal(m, decimals):
    """A mantissa at `decimals` places as tickgate writes it: "64999.50"."""
    s = str(abs(m)).rjust(decimals + 1, "0")
    return ("-" if m < 0 else "") + s[:-decimals] + "." + s[-decimals:]


class Simulator:
    def __init__(self, symbols=100, rate=1000.0, seed=1):
        self.rate = rate
        self.rnd = random.Random(seed)
        self.symbols = []
        for pair, price, pd, sd in PAIRS:
            if len(self.symbols) == symbols:
                break
            self._add(pair, price, pd, sd)
        n = 1
        while len(self.symbols) < symbols:
            exponent = self.rnd.randint(-3, 4)
            digits = self.rnd.randint(100, 999)
            pd = min(8, max(2, 4 - exponent))
            sd = min(8, max(4, 4 + exponent))
            self._add("SYM%04d-USD" % n, digits * 10 ** (exponent - 2 + pd), pd, sd)
            n += 1
        self.next_symbol = 0
        self.topics = [s["topic"] for s in self.symbols]

    def _add(self, pair, price, pd, sd):
        typical = max(1, TYPICAL_TRADE_USD * 10**pd * 10**sd // price)
        self.symbols.append(dict(topic="ticker." + pair, pd=pd, sd=sd, anchor=price, mid=price, typical=typical,
                                 high=price + price // 50, low=price - price // 50,
                                 volume=typical * VOLUME_WINDOW_TRADES, seq=0))

    def next(self):
        """The next update as a dict in tickgate's field order."""
        s = self.symbols[self.next_symbol]
        self.next_symbol = (self.next_symbol + 1) % len(self.symbols)
        r = self.rnd.randint
        sigma = max(1, s["mid"] * 3 // 10000)
        delta = sum(r(-sigma, sigma) for _ in range(4))
        delta = int(delta / 2) + int((s["anchor"] - s["mid"]) / 1000)
        s["mid"] = min(s["anchor"] * 20, max(max(10, s["anchor"] // 20), s["mid"] + delta))
        half = max(1, s["mid"] // 20000) * r(1, 3)
        bid, ask = s["mid"] - half, s["mid"] + half
        last = r(bid, ask)
        last_size = s["typical"] * r(5, 300) // 100 + 1
        s["high"] = max(s["high"], last)
        s["low"] = min(s["low"], last)
        s["volume"] += last_size - s["volume"] // VOLUME_WINDOW_TRADES
        s["seq"] += 1
        pd, sd = s["pd"], s["sd"]
        return {
            "type": "ticker", "topic": s["topic"], "seq": s["seq"], "ts": time.time_ns(), "snapshot": False,
            "bid": decimal(bid, pd), "bid_size": decimal(s["typical"] * r(10, 500) // 100 + 1, sd),
            "ask": decimal(ask, pd), "ask_size": decimal(s["typical"] * r(10, 500) // 100 + 1, sd),
            "last": decimal(last, pd), "last_size": decimal(last_size, sd),
            "open_24h": decimal(s["anchor"], pd), "high_24h": decimal(s["high"], pd),
            "low_24h": decimal(s["low"], pd), "volume_24h": decimal(s["volume"], sd),
        }

    def run(self, publish, sleep):
        """Calls publish(update) at `rate` per second, evenly spaced, forever; sleep(seconds) yields."""
        backlog_cap = max(1, int(self.rate / 10))
        start = time.monotonic()
        k = 0
        while True:
            now = time.monotonic()
            due = int((now - start) * self.rate) + 1
            if due - k > backlog_cap:
                start, k, due = now, 0, 1
            while k < due:
                publish(self.next())
                k += 1
            sleep(max(0.0, start + k / self.rate - time.monotonic()))
