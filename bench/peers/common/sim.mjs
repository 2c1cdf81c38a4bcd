// The peers' copy of tickgate's market simulator (feeds/simulator_feed.cpp): the same pairs, the same
// random walk in integer mantissas, the same fields in the same order with the same decimals, so a
// peer's update is the same JSON, byte for byte in shape, as a tickgate update. Paced the same way:
// update k is due at start + k / rate (updates spread evenly in time), and when the loop falls more
// than a tenth of a second behind, the schedule restarts instead of catching up in one burst.

import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const { pairs } = JSON.parse(readFileSync(new URL('./symbols.json', import.meta.url), 'utf8'));
const TYPICAL_TRADE_USD = 2000;
const VOLUME_WINDOW_TRADES = 100000;

// mulberry32: a small seeded PRNG, enough for a random walk (the numbers need not match tickgate's).
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
}

const pow10 = (n) => 10 ** n;

/** A mantissa at `decimals` places as tickgate writes it: "64999.50". */
export function decimal(m, decimals) {
  const neg = m < 0;
  const s = String(Math.abs(m)).padStart(decimals + 1, '0');
  return (neg ? '-' : '') + s.slice(0, s.length - decimals) + '.' + s.slice(s.length - decimals);
}

// ns since the Unix epoch, as close to CLOCK_REALTIME (what tickgate-load compares with) as Node
// gets: performance.timeOrigin was measured ~1 ms off here, so the monotonic clock is anchored at
// the instant Date.now() ticks over to a new millisecond (exact to a few µs). Being preempted
// between the two reads only makes the offset smaller, so the largest of several tries is kept.
function realtimeOffset() {
  let best = null;
  for (let i = 0; i < 8; ++i) {
    const d0 = Date.now();
    let d;
    while ((d = Date.now()) === d0);
    const o = BigInt(d) * 1000000n - process.hrtime.bigint();
    if (best === null || o > best) best = o;
  }
  return best;
}
const offset = realtimeOffset();

/** ns since the Unix epoch (a Number: ±128 ns at this magnitude, which is fine for ms latencies). */
export function nowNs() {
  return Number(process.hrtime.bigint() + offset);
}

export class Simulator {
  constructor({ symbols = 100, rate = 1000, seed = 1 } = {}) {
    this.rate = rate;
    this.between = rng(seed);
    this.symbols = [];
    for (const [pair, price, pd, sd] of pairs) {
      if (this.symbols.length === symbols) break;
      this.add(pair, price, pd, sd);
    }
    for (let n = 1; this.symbols.length < symbols; ++n) {
      // Synthetic pairs like tickgate's: about five significant digits, price 1e-3 .. 1e4.
      const exponent = this.between(-3, 4);
      const digits = this.between(100, 999);
      const pd = Math.min(8, Math.max(2, 4 - exponent));
      const sd = Math.min(8, Math.max(4, 4 + exponent));
      this.add(`SYM${String(n).padStart(4, '0')}-USD`, digits * pow10(exponent - 2 + pd), pd, sd);
    }
    this.nextSymbol = 0;
    this.topics = this.symbols.map((s) => s.topic);
  }

  add(pair, price, pd, sd) {
    const typical = Math.max(1, Math.floor((TYPICAL_TRADE_USD * pow10(pd) * pow10(sd)) / price));
    this.symbols.push({
      topic: `ticker.${pair}`, pd, sd, anchor: price, mid: price, typical,
      high: price + Math.floor(price / 50), low: price - Math.floor(price / 50),
      volume: typical * VOLUME_WINDOW_TRADES, seq: 0,
    });
  }

  /** The next update, as a plain object with tickgate's field order. */
  next() {
    const s = this.symbols[this.nextSymbol];
    this.nextSymbol = (this.nextSymbol + 1) % this.symbols.length;
    const b = this.between;
    const sigma = Math.max(1, Math.floor((s.mid * 3) / 10000));
    let delta = 0;
    for (let k = 0; k < 4; ++k) delta += b(-sigma, sigma);
    delta = Math.trunc(delta / 2) + Math.trunc((s.anchor - s.mid) / 1000);
    s.mid = Math.min(s.anchor * 20, Math.max(Math.max(10, Math.floor(s.anchor / 20)), s.mid + delta));
    const half = Math.max(1, Math.floor(s.mid / 20000)) * b(1, 3);
    const bid = s.mid - half, ask = s.mid + half;
    const last = b(bid, ask);
    const lastSize = Math.floor((s.typical * b(5, 300)) / 100) + 1;
    s.high = Math.max(s.high, last);
    s.low = Math.min(s.low, last);
    s.volume += lastSize - Math.floor(s.volume / VOLUME_WINDOW_TRADES);
    const channel = 'ticker';
    return {
      type: channel, topic: s.topic, seq: ++s.seq, ts: nowNs(), snapshot: false,
      bid: decimal(bid, s.pd), bid_size: decimal(Math.floor((s.typical * b(10, 500)) / 100) + 1, s.sd),
      ask: decimal(ask, s.pd), ask_size: decimal(Math.floor((s.typical * b(10, 500)) / 100) + 1, s.sd),
      last: decimal(last, s.pd), last_size: decimal(lastSize, s.sd),
      open_24h: decimal(s.anchor, s.pd), high_24h: decimal(s.high, s.pd), low_24h: decimal(s.low, s.pd),
      volume_24h: decimal(s.volume, s.sd),
    };
  }

  /** Calls publish(update) at `rate` per second, evenly spaced, until stop() is called. */
  run(publish) {
    const backlogCap = Math.max(1, Math.floor(this.rate / 10));
    let start = performance.now();
    let k = 0;
    let timer = null;
    const tick = () => {
      const now = performance.now();
      let due = Math.floor(((now - start) / 1000) * this.rate) + 1;
      if (due - k > backlogCap) {
        start = now;
        k = 0;
        due = 1;
      }
      // Node's timers have millisecond resolution: each wake-up publishes what is due by then.
      for (; k < due; ++k) publish(this.next());
      const next = start + (k / this.rate) * 1000;
      timer = setTimeout(tick, Math.max(0, next - performance.now()));
    };
    tick();
    return () => clearTimeout(timer);
  }
}

/** --name value flags into an object of strings, with defaults. */
export function parseFlags(argv, defaults) {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '');
    if (!(name in defaults) || i + 1 >= argv.length) {
      console.error(`unknown or incomplete flag ${argv[i]}; flags: ${Object.keys(defaults).map((k) => '--' + k).join(' ')}`);
      process.exit(2);
    }
    out[name] = argv[i + 1];
  }
  return out;
}
