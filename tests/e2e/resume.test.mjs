// Resume (protocol/README.md, "Resume") end to end with npm `ws` against the real gateway fed by its
// simulator: a client drops its TCP connection mid-stream, reconnects with `since` and gets every
// missed trade, ticker and book message exactly once (books chained and checksummed across the
// seam), then live; a history too short, a stale epoch after a gateway restart, a bad since, a
// forbidden topic; --history-snapshot on trades; the history's byte bound under 100,000 topics.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connectReady, delay, scrape, startGateway, tempDir, waitFor, writeReplay, replayLine } from './support/gateway.mjs';
import { BookKeeper } from './support/book.mjs';
import { claims, hs256, stopChecked, writeKey } from './support/jwt.mjs';

const SANITIZED = process.env.TICKGATE_SANITIZED === '1';
const FEED = ['--symbols', '2', '--rate', '400', '--book-rate', SANITIZED ? '400' : '1000', '--trade-rate', '400'];
const TOPICS = ['trade.BTC-USD', 'ticker.BTC-USD', 'book.BTC-USD', 'book50.BTC-USD'];

const lastSeqs = (messages) => {
  const last = {};
  for (const m of messages) if (typeof m.topic === 'string' && typeof m.seq === 'number') last[m.topic] = m.seq;
  return last;
};
const ofTopic = (messages, topic) => messages.filter((m) => m.topic === topic && typeof m.seq === 'number');
const sinceOf = (epochs, last, topics) =>
  Object.fromEntries(topics.map((t) => [t, { epoch: epochs[t], seq: last[t] }]));

/** Subscribes `topics`, lets messages flow for `ms`, then drops the TCP connection (no close frame). */
async function watchThenDrop(gw, topics, ms) {
  const a = await connectReady(gw.wsUrl, { label: 'before the drop' });
  const ack = await a.request({ op: 'subscribe', id: 1, topics }, 'subscribed');
  await delay(ms);
  a.terminate();
  await a.waitClosed(2000);
  return { ack, messages: a.messages.slice(), last: lastSeqs(a.messages) };
}

describe(`resume from seq (${FEED.join(' ')} --history 5000)`, () => {
  let gw;
  before(async () => {
    gw = await startGateway([...FEED, '--history', '5000']);
    await waitFor(async () => (await scrape(gw)).tickgate_history_entries > 100, { what: 'history filling' });
  });
  after(async () => { await stopChecked(gw); });

  test('a dropped client resumes trade, ticker and book topics: every missed seq once, then live', async () => {
    const a = await watchThenDrop(gw, TOPICS, 400);
    for (const t of TOPICS) {
      assert.match(a.ack.epochs[t], /^[0-9a-f]{16}$/, `epoch of ${t}`);
      assert.ok(a.last[t] !== undefined, `${t} flowed before the drop`);
    }
    assert.equal(new Set(TOPICS.map((t) => a.ack.epochs[t])).size, 1, 'one feed, one epoch');
    await delay(300);  // messages the dropped client misses

    const b = await connectReady(gw.wsUrl, { label: 'resumed' });
    const ack = await b.request({ op: 'subscribe', id: 2, topics: ['*.BTC-USD'], since: sinceOf(a.ack.epochs, a.last, TOPICS) },
      'subscribed');
    assert.deepEqual(ack.recovered, Object.fromEntries(TOPICS.map((t) => [t, true])));
    assert.equal(ack.epochs['trade.BTC-USD'], a.ack.epochs['trade.BTC-USD']);
    await delay(500);
    b.terminate();

    for (const topic of ['trade.BTC-USD', 'ticker.BTC-USD']) {
      const before = ofTopic(a.messages, topic).map((m) => m.seq);
      const after = ofTopic(b.messages, topic);
      assert.ok(after.every((m) => !m.snapshot), `${topic}: a recovered topic gets no snapshot`);
      const all = [...before, ...after.map((m) => m.seq)];
      for (let i = 1; i < all.length; ++i)
        assert.equal(all[i], all[i - 1] + 1, `${topic}: ${all[i - 1]} then ${all[i]} (seam at ${before.at(-1)})`);
      assert.ok(after.length > 40, `${topic}: missed and live messages after the resume (${after.length})`);
    }
    // Books: one reference book per view across both connections; the resumed one starts with a
    // delta chained to the last message before the drop, and every checksum holds.
    for (const topic of ['book.BTC-USD', 'book50.BTC-USD']) {
      const keeper = new BookKeeper();
      const before = ofTopic(a.messages, topic);
      const after = ofTopic(b.messages, topic);
      assert.ok(after.length > 5, `${topic} after the resume`);
      assert.equal(after[0].snapshot, false, `${topic}: resumed by deltas`);
      assert.equal(after[0].prev_seq, before.at(-1).seq, `${topic}: the first delta chains from the last one seen`);
      for (const m of [...before, ...after]) keeper.apply(m);  // throws on a broken chain or checksum
    }
  });

  test('a since on an entry already held replays too', async () => {
    const c = await connectReady(gw.wsUrl);
    const ack = await c.request({ op: 'subscribe', id: 1, topics: ['trade.ETH-USD'] }, 'subscribed');
    await waitFor(() => ofTopic(c.messages, 'trade.ETH-USD').length >= 20, { what: '20 trades' });
    const first = ofTopic(c.messages, 'trade.ETH-USD')[0].seq;
    const again = await c.request({ op: 'subscribe', id: 2, topics: ['trade.ETH-USD'],
      since: { 'trade.ETH-USD': { epoch: ack.epochs['trade.ETH-USD'], seq: first } } }, 'subscribed');
    assert.deepEqual([again.topics, again.recovered], [[], { 'trade.ETH-USD': true }]);
    await delay(100);
    // The replay is queued right behind the ack; live trades may come before the ack.
    const from = c.messages.indexOf(again) + 1;
    const replay = ofTopic(c.messages.slice(from), 'trade.ETH-USD').map((m) => m.seq);
    assert.equal(replay[0], first + 1, 'replayed from the seq given');
    await c.close();
  });

  test('a bad since is a bad_request naming the problem, and the connection goes on', async () => {
    const c = await connectReady(gw.wsUrl);
    const cases = [
      [{ 'ticker.BTC-USD': { epoch: '0000000000000001', seq: 1 } }, "field 'since': 'ticker.BTC-USD' is not covered by this request's topics"],
      [{ 'trade.BTC-USD': { epoch: '0000000000000001', seq: -3 } }, "field 'since': 'trade.BTC-USD' needs \"seq\", an integer >= 0"],
      [{ 'trade.BTC-USD': { epoch: 7, seq: 3 } }, "field 'since': 'trade.BTC-USD' needs \"epoch\", a string (from the ack's epochs)"],
      [['trade.BTC-USD'], "field 'since' must be an object: {\"<topic>\":{\"epoch\":\"..\",\"seq\":N}}"],
    ];
    for (const [i, [since, message]] of cases.entries()) {
      const err = await c.request({ op: 'subscribe', id: 10 + i, topics: ['trade.*'], since }, 'error');
      assert.deepEqual([err.code, err.message], ['bad_request', message]);
    }
    assert.equal((await c.request({ op: 'ping', id: 99 }, 'pong')).id, 99);
    assert.ok(c.isOpen);
    await c.close();
  });
});

describe('not recovered: a history too short, a stale epoch', () => {
  let gw;
  after(async () => { await stopChecked(gw); });

  test('the history does not reach back: recovered false, a ticker snapshot, a trade gap', async () => {
    gw = await startGateway([...FEED, '--history', '5']);
    const topics = ['trade.BTC-USD', 'ticker.BTC-USD', 'book.BTC-USD'];
    const a = await watchThenDrop(gw, topics, 300);
    await delay(300);  // far more than 5 messages per topic
    const b = await connectReady(gw.wsUrl);
    const ack = await b.request({ op: 'subscribe', id: 2, topics, since: sinceOf(a.ack.epochs, a.last, topics) }, 'subscribed');
    assert.deepEqual(ack.recovered, { 'trade.BTC-USD': false, 'ticker.BTC-USD': false, 'book.BTC-USD': false });
    await delay(200);
    const ticker = ofTopic(b.messages, 'ticker.BTC-USD');
    assert.equal(ticker[0].snapshot, true, 'the ticker snapshot first');
    assert.ok(ticker[0].seq > a.last['ticker.BTC-USD'] + 5);
    const book = ofTopic(b.messages, 'book.BTC-USD');
    assert.equal(book[0].snapshot, true, 'a fresh book snapshot');
    const keeper = new BookKeeper();
    for (const m of book) keeper.apply(m);
    const trades = ofTopic(b.messages, 'trade.BTC-USD');
    assert.ok(trades.every((t) => !('snapshot' in t)), 'trades have no snapshot');
    assert.ok(trades[0].seq > a.last['trade.BTC-USD'] + 5, 'the trade seq shows the gap');
    await b.close();
  });

  test('after a gateway restart the old epoch is stale: recovered false and a snapshot', async () => {
    const c = await connectReady(gw.wsUrl);
    const old = await c.request({ op: 'subscribe', id: 1, topics: ['ticker.BTC-USD'] }, 'subscribed');
    await c.close();
    await stopChecked(gw);
    gw = await startGateway([...FEED, '--history', '5000']);  // the simulator starts its seqs over
    const d = await connectReady(gw.wsUrl);
    const fresh = await d.request({ op: 'subscribe', id: 1, topics: ['ticker.BTC-USD'] }, 'subscribed');
    assert.notEqual(fresh.epochs['ticker.BTC-USD'], old.epochs['ticker.BTC-USD'], 'a new epoch');
    await waitFor(() => ofTopic(d.messages, 'ticker.BTC-USD').length >= 5, { what: 'tickers' });
    const seen = ofTopic(d.messages, 'ticker.BTC-USD')[2].seq;
    await d.close();
    // The same seq in the current epoch is recovered; with the old epoch it is not.
    const e = await connectReady(gw.wsUrl);
    const now = await e.request({ op: 'subscribe', id: 1, topics: ['ticker.BTC-USD'],
      since: { 'ticker.BTC-USD': { epoch: fresh.epochs['ticker.BTC-USD'], seq: seen } } }, 'subscribed');
    assert.deepEqual(now.recovered, { 'ticker.BTC-USD': true });
    await delay(50);
    assert.equal(ofTopic(e.messages, 'ticker.BTC-USD')[0].seq, seen + 1);
    await e.close();
    const f = await connectReady(gw.wsUrl);
    const stale = await f.request({ op: 'subscribe', id: 1, topics: ['ticker.BTC-USD'],
      since: { 'ticker.BTC-USD': { epoch: old.epochs['ticker.BTC-USD'], seq: seen } } }, 'subscribed');
    assert.deepEqual(stale.recovered, { 'ticker.BTC-USD': false });
    const first = await f.next((m) => m.topic === 'ticker.BTC-USD');
    assert.equal(first.snapshot, true);
    await f.close();
  });
});

describe('entitlements apply to a replay', () => {
  let gw;
  let dir;
  const secret = 'a-test-secret-that-is-long-enough-for-hs256';
  before(async () => {
    dir = tempDir('tickgate-resume-auth-');
    const file = writeKey(dir.dir, 'secret', `${secret}\n`);
    gw = await startGateway([...FEED, '--history', '5000', '--jwt-secret-file', file]);
  });
  after(async () => { await stopChecked(gw); dir?.cleanup(); });

  test('a forbidden topic is never replayed, an allowed one is', async () => {
    const wide = await connectReady(`${gw.wsUrl}?token=${hs256(secret, claims({ topics: ['*.*'] }))}`);
    const ack = await wide.request({ op: 'subscribe', id: 1, topics: ['trade.BTC-USD', 'ticker.BTC-USD'] }, 'subscribed');
    await waitFor(() => ofTopic(wide.messages, 'trade.BTC-USD').length >= 3, { what: 'trades' });
    const last = lastSeqs(wide.messages);
    await wide.close();
    await delay(200);
    const narrow = await connectReady(`${gw.wsUrl}?token=${hs256(secret, claims({ topics: ['ticker.*'] }))}`);
    const from = narrow.messages.length;
    const topics = ['trade.BTC-USD', 'ticker.BTC-USD'];
    const reply = await narrow.request({ op: 'subscribe', id: 2, topics, since: sinceOf(ack.epochs, last, topics) },
      'subscribed');
    const err = narrow.messages.slice(from).find((m) => m.type === 'error');
    assert.deepEqual([err?.code, err?.topics], ['forbidden', ['trade.BTC-USD']]);
    assert.deepEqual(reply.recovered, { 'trade.BTC-USD': false, 'ticker.BTC-USD': true });
    assert.deepEqual(Object.keys(reply.epochs), ['ticker.BTC-USD'], 'no epoch of a forbidden topic');
    await delay(200);
    assert.equal(ofTopic(narrow.messages, 'trade.BTC-USD').length, 0, 'no trade replayed');
    assert.equal(ofTopic(narrow.messages, 'ticker.BTC-USD')[0].seq, last['ticker.BTC-USD'] + 1);
    await narrow.close();
  });
});

describe('--history-snapshot 3', () => {
  let gw;
  before(async () => {
    gw = await startGateway([...FEED, '--history', '100', '--history-snapshot', '3']);
    await waitFor(async () => (await scrape(gw)).tickgate_history_entries > 100, { what: 'history filling' });
  });
  after(async () => { await stopChecked(gw); });

  test('subscribing trade.* sends the last 3 trades of each symbol as snapshots, in seq order, then live', async () => {
    const c = await connectReady(gw.wsUrl);
    await c.request({ op: 'subscribe', id: 1, topics: ['trade.*'] }, 'subscribed');
    await delay(300);
    for (const topic of ['trade.BTC-USD', 'trade.ETH-USD']) {
      const trades = ofTopic(c.messages, topic);
      assert.deepEqual(trades.slice(0, 4).map((t) => t.snapshot === true), [true, true, true, false], topic);
      const seqs = trades.map((t) => t.seq);
      for (let i = 1; i < seqs.length; ++i) assert.equal(seqs[i], seqs[i - 1] + 1, `${topic}: ${seqs}`);
      for (const t of trades.slice(0, 3)) assert.ok(Number.isInteger(t.trade_id) && /^\d+\.\d+$/.test(t.price));
    }
    await c.close();
  });
});

describe('history bounds under a flood of 100,000 topics', () => {
  const N = 100000;
  const BUDGET = 4 << 20;
  let gw;
  let dir;
  before(async () => {
    dir = tempDir('tickgate-resume-flood-');
    const ts = 1764090000000000000n;
    const lines = [];
    for (let i = 0; i < N; ++i) lines.push(replayLine(`ticker.T${i}-USD`, ts + BigInt(i)));
    const file = writeReplay(dir.dir, 'flood.jsonl', lines);
    gw = await startGateway(['--feed', `replay:${file},speed=1000000`, '--history', '10',
      '--history-bytes', String(BUDGET)], { timeoutMs: 30000 });
  });
  after(async () => { await stopChecked(gw); dir?.cleanup(); });

  test('tickgate_history_bytes stays within --history-bytes while every topic arrives', { timeout: 120000 }, async () => {
    let peak = 0;
    let m;
    const deadline = Date.now() + 90000;
    do {
      m = await scrape(gw);
      peak = Math.max(peak, m.tickgate_history_bytes);
      assert.ok(m.tickgate_history_bytes <= BUDGET, `history bytes ${m.tickgate_history_bytes} > ${BUDGET}`);
      if (m.tickgate_topics >= N) break;
      await delay(100);
    } while (Date.now() < deadline);
    assert.equal(m.tickgate_topics, N, 'every topic arrived');
    assert.ok(m['tickgate_history_evictions_total{reason="bytes"}'] > 0, 'the byte budget evicted');
    assert.ok(peak > BUDGET / 2, `the history was used (peak ${peak})`);
    assert.ok(m.tickgate_history_entries < N, `entries held ${m.tickgate_history_entries}`);
  });
});
