// Books and trades across NATS (issue 14): tickgate-feed publishes book changes and trades as bus
// v2 records with its own seqs, and a keyframe of every book each second; gateways serve identical
// books, a gateway that joins late serves a book only once it has a keyframe, and outages of
// nats-server or the publisher never give a client a book that fails its checksum or breaks its
// chain. Every book message every client receives goes through a reference book (support/book.mjs).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { delay, scrape, tempDir, waitFor, writeReplay } from './support/gateway.mjs';
import { recordSimulator } from './support/recording.mjs';
import { BookKeeper, ReferenceBook } from './support/book.mjs';
import {
  busMessageV2, connectedGateway, rawPublish, startNats, startPublisher, subscribedClient, v2Book,
} from './support/nats.mjs';

const BOOKS = ['book.BTC-USD', 'book.ETH-USD', 'book.SOL-USD'];
const TRADES = ['trade.BTC-USD', 'trade.ETH-USD', 'trade.SOL-USD'];
const PUBLISHER = ['--bus-version', '2', '--symbols', '3', '--rate', '30', '--book-rate', '300', '--trade-rate', '60'];

/** Applies every book message of `client` in order; returns the keeper, throws on the first broken one. */
function checkBooks(client) {
  const keeper = new BookKeeper();
  for (const m of client.messages) keeper.apply(m);
  return keeper;
}

/** topic -> seq -> {checksum, bids, asks} of the deltas (not snapshots) a client received. */
function deltasBySeq(client) {
  const out = new Map();
  for (const m of client.messages) {
    if ((m.type !== 'book' && m.type !== 'book50') || m.snapshot) continue;
    if (!out.has(m.topic)) out.set(m.topic, new Map());
    out.get(m.topic).set(m.seq, JSON.stringify({ checksum: m.checksum, bids: m.bids, asks: m.asks, ts: m.ts }));
  }
  return out;
}

function tradesOf(client, topic) {
  return client.messages.map((m, i) => [m, client.raw[i]]).filter(([m]) => m.type === 'trade' && m.topic === topic);
}

const count = (client, pred) => client.messages.filter(pred).length;

describe('books and trades across NATS', () => {
  const stops = [];
  after(async () => { for (const s of stops.reverse()) await s(); });

  test('two gateways, one joining late while deltas flow, serve the same books and trades', { timeout: 60000 }, async () => {
    const nats = await startNats();
    stops.push(() => nats.stop());
    const pub = await startPublisher(nats.url, PUBLISHER);
    stops.push(() => pub.stop());
    const early = await connectedGateway(nats, stops);
    const a = await subscribedClient(early, 'early', stops, ['book.*', 'book50.*', 'trade.*']);
    // Let keyframes and plenty of deltas pass before the second gateway starts.
    await delay(1500);
    const late = await connectedGateway(nats, stops);
    const b = await subscribedClient(late, 'late', stops, ['book.*', 'book50.*', 'trade.*']);
    await waitFor(() => BOOKS.every((t) => count(b, (m) => m.topic === t && !m.snapshot) >= 30),
      { timeoutMs: 20000, what: '30 book deltas per book on the late gateway' });

    const ka = checkBooks(a);
    const kb = checkBooks(b);
    for (const topic of [...BOOKS, ...BOOKS.map((t) => t.replace('book.', 'book50.'))]) {
      assert.equal(kb.get(topic).snapshots, 1, `${topic}: one snapshot on the late gateway, then deltas`);
      assert.ok(kb.get(topic).messages >= 20, `${topic}: ${kb.get(topic).messages} messages`);
    }
    // The same change has the same seq, levels, checksum and ts on both gateways.
    const da = deltasBySeq(a);
    const db = deltasBySeq(b);
    for (const [topic, seqs] of db) {
      let common = 0;
      for (const [seq, body] of seqs) {
        if (!da.get(topic)?.has(seq)) continue;
        assert.equal(body, da.get(topic).get(seq), `${topic} seq ${seq} differs between the gateways`);
        ++common;
      }
      assert.ok(common >= 20, `${topic}: ${common} deltas seen by both`);
    }
    // Each book in its symbol's decimals on both (SOL-USD has three price places in the simulator).
    for (const c of [a, b]) {
      const sol = c.messages.find((m) => m.topic === 'book.SOL-USD' && m.snapshot);
      assert.match(sol.bids[0][0], /^\d+\.\d{3}$/, `${c.label}: ${JSON.stringify(sol.bids[0])}`);
    }
    // A late client's snapshot is exactly the early client's book at that seq: its state after the
    // last message at or before it (a change that did not touch the view sent nothing).
    for (const topic of BOOKS) {
      const snap = b.messages.find((m) => m.topic === topic && m.snapshot);
      const early = new ReferenceBook(topic, 10);
      let state;
      for (const m of a.messages) {
        if (m.topic !== topic) continue;
        if (m.seq > snap.seq) break;
        early.apply(m);
        state = early.checksumString();
      }
      const late = new ReferenceBook(topic, 10);
      late.apply(snap);
      assert.ok(state !== undefined, `${topic}: the early client's chain reaches seq ${snap.seq}`);
      assert.equal(late.checksumString(), state, `${topic}: snapshot at ${snap.seq}`);
    }
    // Trades: the publisher's seq and trade_id, the same bytes on both, no gap in the common window.
    for (const topic of TRADES) {
      const ta = tradesOf(a, topic);
      const tb = tradesOf(b, topic);
      assert.ok(tb.length >= 5, `${topic}: ${tb.length} trades on the late gateway`);
      const lo = tb[0][0].seq;
      const hi = Math.min(ta.at(-1)[0].seq, tb.at(-1)[0].seq);
      const wa = ta.filter(([m]) => m.seq >= lo && m.seq <= hi).map(([, raw]) => raw);
      const wb = tb.filter(([m]) => m.seq >= lo && m.seq <= hi).map(([, raw]) => raw);
      assert.equal(wb.length, hi - lo + 1, `${topic}: no gap in ${lo}..${hi}`);
      assert.deepEqual(wb, wa, `${topic}: identical trades`);
      const ids = tb.map(([m]) => m.trade_id);
      for (let i = 1; i < ids.length; ++i) assert.ok(ids[i] > ids[i - 1], `${topic}: trade_id rises`);
    }
    const m = await scrape(late);
    assert.ok(m[`tickgate_upstream_book_bases_total{feed="${nats.url}"}`] >= BOOKS.length, 'the late books had bases');
    assert.equal(m[`tickgate_upstream_books_waiting{feed="${nats.url}"}`], 0);
    const pm = await (await import('./support/nats.mjs')).scrapeUrl(pub.metricsUrl);
    assert.ok(pm.tickgate_feed_book_keyframes_total >= 3, 'the publisher sends keyframes');
  });

  test('a book without a keyframe is acknowledged, and its snapshot follows the keyframe', { timeout: 30000 }, async () => {
    const nats = await startNats();
    stops.push(() => nats.stop());
    const gw = await connectedGateway(nats, stops);
    const kf = (seq, levels) => ({ subject: 'md.bookkf.TEST-USD', data: busMessageV2([v2Book(seq, levels, { reset: true })]) });
    const delta = (seq, levels) => ({ subject: 'md.book.TEST-USD', data: busMessageV2([v2Book(seq, levels)]) });
    // Deltas 11 and 12 of a book this gateway has no base for: it knows the topic, serves nothing.
    await rawPublish(nats.port, [delta(11, [['bid', 10000, 20000]]), delta(12, [['ask', 10100, 30000]])]);
    await waitFor(async () => (await scrape(gw))[`tickgate_upstream_books_waiting{feed="${nats.url}"}`] === 1,
      { what: 'the book to wait for a keyframe' });
    const c = await subscribedClient(gw, 'waiting', stops, ['book.TEST-USD']);
    await delay(300);
    assert.equal(count(c, (m) => m.type === 'book'), 0, `no book before its keyframe: ${c.lastText()}`);
    // A keyframe older than the first buffered delta cannot be its base; the one at 10 can.
    await rawPublish(nats.port, [kf(9, [['bid', 9900, 10000]])]);
    await delay(300);
    assert.equal(count(c, (m) => m.type === 'book'), 0, `a stale keyframe is not served: ${c.lastText()}`);
    await rawPublish(nats.port, [kf(10, [['bid', 10000, 10000], ['bid', 9900, 10000], ['ask', 10200, 10000]])]);
    const snap = await c.next((m) => m.type === 'book', 5000);
    assert.equal(snap.snapshot, true, JSON.stringify(snap));
    // The keyframe at 10 as the snapshot, then the buffered 11 and 12 chained from it.
    assert.equal(snap.seq, 10);
    assert.deepEqual(snap.bids, [['100.00', '1.0000'], ['99.00', '1.0000']]);
    assert.deepEqual(snap.asks, [['102.00', '1.0000']]);
    const d11 = await c.next((m) => m.type === 'book' && m.seq === 11, 5000);
    assert.equal(d11.prev_seq, 10);
    assert.deepEqual(d11.bids, [['100.00', '2.0000']]);
    const d12 = await c.next((m) => m.type === 'book' && m.seq === 12, 5000);
    assert.equal(d12.prev_seq, 11);
    assert.deepEqual(d12.asks, [['101.00', '3.0000']]);
    await rawPublish(nats.port, [delta(13, [['bid', 9900, 0]])]);
    const next = await c.next((m) => m.type === 'book' && !m.snapshot, 5000);
    assert.equal(next.prev_seq, 12);
    assert.deepEqual(next.bids, [['99.00', '0.0000']]);
    // A lost delta (15 after 13): the gateway stops serving the book until a keyframe; that one
    // reaches the client as a delta that turns its book into the keyframe's (chain unbroken).
    await rawPublish(nats.port, [delta(15, [['bid', 9800, 10000]])]);
    await delay(300);
    assert.equal(count(c, (m) => m.type === 'book'), 4, 'nothing after the gap');
    await rawPublish(nats.port, [kf(16, [['bid', 10000, 50000], ['ask', 10100, 30000]])]);
    const resync = await c.next((m) => m.type === 'book' && m.seq === 16, 5000);
    assert.equal(resync.prev_seq, 13);
    const keeper = checkBooks(c);
    assert.deepEqual(keeper.get('book.TEST-USD').sorted('bids'), [['100.00', '5.0000']]);
    assert.deepEqual(keeper.get('book.TEST-USD').sorted('asks'), [['101.00', '3.0000']]);
    const m = await scrape(gw);
    assert.equal(m[`tickgate_upstream_book_gaps_total{feed="${nats.url}"}`], 1);
    assert.match(gw.stderr, /book\.TEST-USD: seq 15 after 13; not served on until a keyframe comes/);
  });

  test('a recorded day replayed by tickgate-feed reaches the gateways as recorded', { timeout: 60000 }, async () => {
    // Recorded from a simulator gateway by a v1 client, replayed in a loop onto the bus.
    const topics = ['ticker.BTC-USD', 'book.BTC-USD', 'book50.BTC-USD', 'trade.BTC-USD'];
    const lines = await recordSimulator(topics);
    const tmp = tempDir('tickgate-nats-replay-');
    stops.push(() => tmp.cleanup());
    const file = writeReplay(tmp.dir, 'day.jsonl', lines.map(([, raw]) => raw));
    const recorded = new Set(lines.filter(([m]) => m.topic === 'book50.BTC-USD').map(([m]) => m.checksum));
    const recordedTrades = lines.filter(([m]) => m.topic === 'trade.BTC-USD').map(([m]) => `${m.price} ${m.size} ${m.side}`);
    const nats = await startNats();
    stops.push(() => nats.stop());
    const pub = await startPublisher(nats.url, ['--bus-version', '2', '--feed', `replay:${file},loop`]);
    stops.push(() => pub.stop());
    const gw = await connectedGateway(nats, stops);
    const c = await subscribedClient(gw, 'replayed', stops, ['book.*', 'book50.*', 'trade.*']);
    await waitFor(() => count(c, (m) => m.topic === 'book50.BTC-USD' && !m.snapshot) >= 40
      && count(c, (m) => m.type === 'trade') >= 10, { timeoutMs: 20000, what: '40 replayed book50 deltas and 10 trades' });
    const keeper = checkBooks(c);
    assert.equal(keeper.get('book50.BTC-USD').snapshots, 1, 'one chain across the replay\'s laps');
    const served = c.messages.filter((m) => m.topic === 'book50.BTC-USD');
    const known = served.filter((m) => recorded.has(m.checksum)).length;
    assert.ok(known >= served.length * 0.9, `${known} of ${served.length} served book50 states are recorded ones`);
    // The trades as recorded (price, size, side), numbered by the publisher: seq and trade_id rise
    // across the laps (a loop repeats the recorded trade_ids; the bus's are the publisher's).
    const trades = c.messages.filter((m) => m.type === 'trade');
    assert.ok(trades.length >= 5, `${trades.length} trades`);
    for (const t of trades) assert.ok(recordedTrades.includes(`${t.price} ${t.size} ${t.side}`), JSON.stringify(t));
    for (let i = 1; i < trades.length; ++i) {
      assert.equal(trades[i].seq, trades[i - 1].seq + 1, 'no trade lost');
      assert.ok(trades[i].trade_id > trades[i - 1].trade_id, 'trade_id rises');
    }
  });

  test('books stay whole across a nats-server restart and a publisher restart', { timeout: 60000 }, async () => {
    const first = await startNats();
    const port = first.port;
    let nats = first;
    stops.push(() => nats.stop());
    let pub = await startPublisher(nats.url, PUBLISHER);
    stops.push(() => pub.stop());
    const gw = await connectedGateway(nats, stops);
    const c = await subscribedClient(gw, 'through', stops, ['book.*', 'book50.*', 'trade.*']);
    const deltas = () => count(c, (m) => m.type === 'book' && !m.snapshot);
    await waitFor(() => deltas() >= 50, { timeoutMs: 10000, what: 'deltas before the outage' });

    // nats-server restarts on its port and store; publisher and gateway reconnect by themselves.
    await nats.stop({ cleanup: false });
    await delay(500);
    nats = await startNats({ port, storeDir: first.storeDir, ownStore: true });
    const before = deltas();
    await waitFor(() => deltas() >= before + 50, { timeoutMs: 20000, what: 'deltas after nats-server restarted' });
    checkBooks(c);

    // The publisher restarts: a new epoch, seqs continued from the stream, a new book per symbol.
    await pub.stop();
    pub = await startPublisher(nats.url, PUBLISHER);
    const restarted = deltas();
    await waitFor(() => deltas() >= restarted + 50, { timeoutMs: 20000, what: 'deltas after the publisher restarted' });
    const keeper = checkBooks(c);
    for (const topic of BOOKS) assert.equal(keeper.get(topic).snapshots, 1, `${topic}: one chain from the first snapshot`);
    // Trades never go back or repeat across both restarts (gaps are allowed: they happened).
    for (const topic of TRADES) {
      const seqs = tradesOf(c, topic).map(([m]) => m.seq);
      for (let i = 1; i < seqs.length; ++i) assert.ok(seqs[i] > seqs[i - 1], `${topic}: ${seqs[i - 1]} then ${seqs[i]}`);
    }
    // A fresh client gets a snapshot that the next deltas chain from.
    const fresh = await subscribedClient(gw, 'fresh', stops, ['book.BTC-USD']);
    await waitFor(() => count(fresh, (m) => m.type === 'book') >= 10, { timeoutMs: 10000, what: 'a fresh chain' });
    checkBooks(fresh);
  });
});
