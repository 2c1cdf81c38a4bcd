// A client's order book for the Node.js end-to-end tests, written from protocol/README.md alone as
// a client author would write it: it applies a book topic's snapshot and deltas, and checks on every
// message the prev_seq chain and the checksum over the exact strings received. It shares nothing
// with the gateway's C++ book, so a bug there cannot hide here.

// zlib's CRC-32 (the checksum the README names). Debian 12's Node 18 has no zlib.crc32, so the
// standard table-driven form is spelled out here (polynomial 0xEDB88320, reflected).
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(text) {
  let c = 0xffffffff;
  for (const byte of Buffer.from(text, 'latin1')) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Exact comparison of two decimal strings by value ("100.5" vs "99.75"), without floats. */
export function compareDecimal(a, b) {
  const [ai, af = ''] = a.split('.');
  const [bi, bf = ''] = b.split('.');
  const places = Math.max(af.length, bf.length);
  const x = BigInt(ai + af.padEnd(places, '0'));
  const y = BigInt(bi + bf.padEnd(places, '0'));
  return x < y ? -1 : x > y ? 1 : 0;
}

const isZero = (size) => /^0(\.0*)?$/.test(size);

export class ReferenceBook {
  /** depth: the view's depth (10 for book.*, 50 for book50.*): it must never hold more. */
  constructor(topic, depth) {
    this.topic = topic;
    this.depth = depth;
    this.bids = new Map();  // price string -> size string
    this.asks = new Map();
    this.seq = undefined;
    this.messages = 0;
    this.snapshots = 0;
  }

  /** Applies one book message; throws an Error saying what is wrong with it. */
  apply(m) {
    if (m.topic !== this.topic) throw new Error(`message of ${m.topic} applied to ${this.topic}`);
    for (const f of ['seq', 'checksum']) if (!Number.isInteger(m[f])) throw new Error(`${f} is not an integer: ${JSON.stringify(m)}`);
    if (!Array.isArray(m.bids) || !Array.isArray(m.asks)) throw new Error(`bids/asks missing: ${JSON.stringify(m)}`);
    if (m.snapshot === true) {
      if ('prev_seq' in m) throw new Error(`a snapshot carries prev_seq: ${JSON.stringify(m)}`);
      this.bids.clear();
      this.asks.clear();
      this.snapshots++;
    } else {
      if (m.snapshot !== false) throw new Error(`snapshot is not a boolean: ${JSON.stringify(m)}`);
      if (this.seq === undefined) throw new Error(`a delta before any snapshot: ${JSON.stringify(m)}`);
      if (m.prev_seq !== this.seq) throw new Error(`${this.topic}: broken chain, prev_seq ${m.prev_seq} after seq ${this.seq}`);
      if (!(m.seq > m.prev_seq)) throw new Error(`${this.topic}: seq ${m.seq} not above prev_seq ${m.prev_seq}`);
    }
    this.#applySide(m.bids, this.bids, -1);
    this.#applySide(m.asks, this.asks, 1);
    if (this.bids.size > this.depth || this.asks.size > this.depth)
      throw new Error(`${this.topic}: ${this.bids.size} bids / ${this.asks.size} asks in a view of ${this.depth}`);
    this.seq = m.seq;
    this.messages++;
    const ours = crc32(this.checksumString());
    if (ours !== m.checksum)
      throw new Error(`${this.topic}: checksum ${ours} != ${m.checksum} after seq ${m.seq} (${this.checksumString()})`);
  }

  #applySide(levels, side, order) {
    let previous;
    for (const level of levels) {
      if (!Array.isArray(level) || level.length !== 2 || typeof level[0] !== 'string' || typeof level[1] !== 'string')
        throw new Error(`${this.topic}: a level is not ["price","size"]: ${JSON.stringify(level)}`);
      const [price, size] = level;
      if (previous !== undefined && compareDecimal(price, previous) * order <= 0)
        throw new Error(`${this.topic}: levels not best first at ${price} after ${previous}`);
      previous = price;
      if (isZero(size)) side.delete(price);
      else side.set(price, size);
    }
  }

  /** Levels best first, as [price, size] strings. */
  sorted(side) {
    const order = side === 'bids' ? -1 : 1;
    return [...this[side].entries()].sort((a, b) => compareDecimal(a[0], b[0]) * order);
  }

  best(side) {
    return this.sorted(side)[0];
  }

  checksumString() {
    const part = (side) => this.sorted(side).slice(0, 10).map(([p, s]) => `${p}:${s}`).join(',');
    return `${part('asks')}|${part('bids')}`;
  }
}

/**
 * Keeps one ReferenceBook per book topic of a message stream: feed it every message a client got
 * (tickers and others are ignored). Throws on the first broken message.
 */
export class BookKeeper {
  constructor() {
    this.books = new Map();
  }

  static depthOf(topic) {
    return topic.startsWith('book50.') ? 50 : 10;
  }

  apply(m) {
    if (m.type !== 'book' && m.type !== 'book50') return false;
    let b = this.books.get(m.topic);
    if (!b) this.books.set(m.topic, (b = new ReferenceBook(m.topic, BookKeeper.depthOf(m.topic))));
    b.apply(m);
    return true;
  }

  get(topic) {
    return this.books.get(topic);
  }
}
