// Protocol v1 as a client sees it: welcome, subscribe/unsubscribe acks, snapshots then live updates
// with gap-free seq, patterns (also over topics that appear later), list, ping, ?subscribe=.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  connectReady, connect, delay, isUpdate, replayLine, startGateway, tempDir, writeReplay,
} from './support/gateway.mjs';
import { assertGapFree, checkUpdates, withoutEpochs } from './support/checks.mjs';

const FIVE = ['ticker.BTC-USD', 'ticker.ETH-USD', 'ticker.SOL-USD', 'ticker.XRP-USD', 'ticker.ADA-USD'];
const T = { timeout: 15000 };

let gw;
const clients = [];
async function client(opts = {}) {
  const c = await connectReady(gw.wsUrl, opts);
  clients.push(c);
  return c;
}
const indexOf = (c, m) => c.messages.indexOf(m);

describe('protocol v1 against the simulator (--symbols 5, default rate)', () => {
  before(async () => {
    gw = await startGateway(['--symbols', '5', '--heartbeat-ms', '15000']);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    if (gw) await gw.stop();
  });

  test('the first message is the welcome: session, version, heartbeat_ms', T, async () => {
    const c = await connect(gw.wsUrl, { label: 'welcome' });
    clients.push(c);
    const first = await c.next(() => true, 3000);
    assert.equal(first.type, 'welcome');
    assert.match(first.session, /^[0-9a-f]{16}$/);
    assert.equal(typeof first.version, 'string');
    assert.ok(first.version.length > 0);
    assert.equal(first.heartbeat_ms, 15000, 'heartbeat_ms is --heartbeat-ms');
    assert.ok(!('publish' in first), 'no publish member while publishing is off');
    const other = await client({ label: 'welcome2' });
    assert.notEqual(other.messages[0].session, first.session, 'each connection has its own session id');
  });

  test('subscribe: ack with the integer id, then one snapshot per topic, then live updates +1', T, async () => {
    const c = await client({ label: 'sub-int' });
    const from = c.messages.length;
    c.send({ op: 'subscribe', id: 1, topics: ['ticker.BTC-USD', 'ticker.ETH-USD'] });
    const ack = await c.next('subscribed');
    assert.deepEqual(withoutEpochs(ack), { type: 'subscribed', id: 1, topics: ['ticker.BTC-USD', 'ticker.ETH-USD'] });
    const ackAt = indexOf(c, ack);
    assert.deepEqual(c.messages.slice(from, ackAt).filter(isUpdate), [], 'no update before the ack');

    await delay(1000);
    const ups = c.updates(ackAt + 1);
    for (const topic of ['ticker.BTC-USD', 'ticker.ETH-USD']) {
      const mine = ups.filter((u) => u.topic === topic);
      assert.ok(mine.length >= 20, `${topic}: live updates keep coming (got ${mine.length} in 1 s at 200/s)`);
      assert.equal(mine[0].snapshot, true, `${topic}: the first message is the snapshot`);
      assert.equal(mine.filter((u) => u.snapshot).length, 1, `${topic}: exactly one snapshot`);
      assertGapFree(mine, topic);
    }
    assert.deepEqual([...new Set(ups.map((u) => u.topic))].sort(), ['ticker.BTC-USD', 'ticker.ETH-USD']);
    checkUpdates(ups);
  });

  test('a string id is echoed as a string; snapshots follow their ack', T, async () => {
    const c = await client({ label: 'sub-str' });
    c.send({ op: 'subscribe', id: 'req-7', topics: ['ticker.SOL-USD'] });
    const ack = await c.next('subscribed');
    assert.deepEqual(withoutEpochs(ack), { type: 'subscribed', id: 'req-7', topics: ['ticker.SOL-USD'] });
    const snap = await c.next((m) => m.topic === 'ticker.SOL-USD');
    assert.equal(snap.snapshot, true);
    assert.ok(indexOf(c, snap) > indexOf(c, ack));
    const live = await c.next((m) => m.topic === 'ticker.SOL-USD');
    assert.equal(live.snapshot, false);
    assert.equal(live.seq, snap.seq + 1);
  });

  test('prices: decimal strings, fixed decimals per field per symbol, bid <= ask, low <= last <= high', T, async () => {
    const c = await client({ label: 'prices' });
    c.send({ op: 'subscribe', id: 1, topics: ['ticker.*'] });
    await c.next('subscribed');
    await delay(1500);
    const ups = c.updates();
    assert.ok(ups.length > 200, `got ${ups.length} updates in 1.5 s at 1000/s`);
    assert.deepEqual([...new Set(ups.map((u) => u.topic))].sort(), [...FIVE].sort());
    checkUpdates(ups);
    assertGapFree(ups, 'ticker.*');
  });

  test('patterns ticker.*, *.BTC-USD and *.* cover what they match, one snapshot per topic', T, async () => {
    const cases = [
      ['ticker.*', FIVE],
      ['*.BTC-USD', ['ticker.BTC-USD']],
      ['*.*', FIVE],
    ];
    await Promise.all(cases.map(async ([pattern, expected]) => {
      const c = await client({ label: pattern });
      c.send({ op: 'subscribe', id: pattern, topics: [pattern] });
      const ack = await c.next('subscribed');
      assert.deepEqual(ack.topics, [pattern]);
      await delay(800);
      const ups = c.updates(indexOf(c, ack) + 1);
      assert.deepEqual([...new Set(ups.map((u) => u.topic))].sort(), [...expected].sort(), pattern);
      for (const topic of expected) {
        const mine = ups.filter((u) => u.topic === topic);
        assert.equal(mine[0].snapshot, true, `${pattern}: ${topic} starts with its snapshot`);
        assert.equal(mine.filter((u) => u.snapshot).length, 1, `${pattern}: one snapshot of ${topic}`);
        assertGapFree(mine, `${pattern} ${topic}`);
      }
    }));
  });

  test('a topic held both exactly and by a pattern is delivered once', T, async () => {
    const c = await client({ label: 'overlap' });
    c.send({ op: 'subscribe', id: 1, topics: ['ticker.BTC-USD'] });
    await c.next((m) => m.topic === 'ticker.BTC-USD' && m.snapshot);
    c.send({ op: 'subscribe', id: 2, topics: ['ticker.*'] });
    const ack = await c.next((m) => m.type === 'subscribed' && m.id === 2);
    assert.deepEqual(ack.topics, ['ticker.*']);
    await delay(1000);
    const after = c.updates(indexOf(c, ack) + 1);
    const btc = after.filter((u) => u.topic === 'ticker.BTC-USD');
    assert.ok(btc.length >= 20, `BTC keeps flowing (${btc.length})`);
    assert.equal(btc.filter((u) => u.snapshot).length, 0, 'no second snapshot of a topic already held');
    const snaps = after.filter((u) => u.snapshot).map((u) => u.topic).sort();
    assert.deepEqual(snaps, FIVE.filter((t) => t !== 'ticker.BTC-USD').sort(), 'snapshots of the newly covered only');
    assertGapFree(c.updates().filter((u) => u.topic === 'ticker.BTC-USD'), 'BTC (no duplicate seq)');
  });

  test('a pattern that matches nothing yet is accepted', T, async () => {
    const c = await client({ label: 'nothing-yet' });
    c.send({ op: 'subscribe', id: 3, topics: ['*.ZZZ-USD', 'trades.*'] });
    const ack = await c.next('subscribed');
    assert.deepEqual(ack, { type: 'subscribed', id: 3, topics: ['*.ZZZ-USD', 'trades.*'] });
    await delay(300);
    assert.deepEqual(c.updates(), []);
    assert.deepEqual(c.messages.filter((m) => m.type === 'error'), []);
  });

  test('unsubscribe with overlap: the pattern keeps a topic flowing until it goes too', T, async () => {
    const c = await client({ label: 'unsub' });
    c.send({ op: 'subscribe', id: 1, topics: ['ticker.BTC-USD', 'ticker.*'] });
    await c.next('subscribed');
    await c.next((m) => m.topic === 'ticker.BTC-USD');

    c.send({ op: 'unsubscribe', id: 2, topics: ['ticker.BTC-USD'] });
    const ack1 = await c.next('unsubscribed');
    assert.deepEqual(ack1, { type: 'unsubscribed', id: 2, topics: ['ticker.BTC-USD'] });
    await delay(500);
    const still = c.updates(indexOf(c, ack1) + 1).filter((u) => u.topic === 'ticker.BTC-USD');
    assert.ok(still.length >= 10, `BTC still covered by ticker.* (got ${still.length} in 0.5 s)`);
    assertGapFree(c.updates().filter((u) => u.topic === 'ticker.BTC-USD'), 'BTC across the unsubscribe');

    c.send({ op: 'unsubscribe', id: 3, topics: ['ticker.*'] });
    const ack2 = await c.next('unsubscribed');
    assert.deepEqual(ack2, { type: 'unsubscribed', id: 3, topics: ['ticker.*'] });
    await delay(500);
    assert.deepEqual(c.updates(indexOf(c, ack2) + 1), [], 'nothing after the last entry is gone');
  });

  test('unsubscribe of something not held is not listed', T, async () => {
    const c = await client({ label: 'unsub-not-held' });
    c.send({ op: 'subscribe', id: 1, topics: ['ticker.BTC-USD'] });
    await c.next('subscribed');
    c.send({ op: 'unsubscribe', id: 2, topics: ['ticker.ETH-USD', 'ticker.BTC-USD', '*.SOL-USD'] });
    const ack = await c.next('unsubscribed');
    assert.deepEqual(ack, { type: 'unsubscribed', id: 2, topics: ['ticker.BTC-USD'] });
    c.send({ op: 'unsubscribe', id: 3, topics: ['ticker.ETH-USD'] });
    const ack2 = await c.next('unsubscribed');
    assert.deepEqual(ack2, { type: 'unsubscribed', id: 3, topics: [] });
  });

  test('subscribing an entry already held is a no-op: no new snapshot, no duplicate, one entry', T, async () => {
    const c = await client({ label: 'resub' });
    c.send({ op: 'subscribe', id: 1, topics: ['ticker.ETH-USD'] });
    await c.next('subscribed');
    await c.next((m) => m.topic === 'ticker.ETH-USD' && m.snapshot);
    const mark = c.messages.length;
    c.send({ op: 'subscribe', id: 2, topics: ['ticker.ETH-USD'] });
    // A ping after it shows the request was processed (requests are answered in order).
    c.send({ op: 'ping', id: 'after-resub' });
    await c.next((m) => m.type === 'pong' && m.id === 'after-resub');
    await delay(400);
    const eth = c.updates(mark);
    assert.equal(eth.filter((u) => u.snapshot).length, 0, 'no second snapshot');
    assert.deepEqual(c.messages.slice(mark).filter((m) => m.type === 'error'), []);
    const acks = c.messages.slice(mark).filter((m) => m.type === 'subscribed');
    for (const a of acks) assert.deepEqual(a.topics, [], 'an ack, if any, adds nothing');
    assertGapFree(c.updates().filter((u) => u.topic === 'ticker.ETH-USD'), 'ETH (no duplicate)');
    // Still one entry: a single unsubscribe ends the stream.
    c.send({ op: 'unsubscribe', id: 4, topics: ['ticker.ETH-USD'] });
    const un = await c.next('unsubscribed');
    assert.deepEqual(un.topics, ['ticker.ETH-USD']);
    await delay(400);
    assert.deepEqual(c.updates(indexOf(c, un) + 1), []);
  });

  test('list returns every topic (--symbols 5: five ticker topics)', T, async () => {
    const c = await client({ label: 'list' });
    c.send({ op: 'list', id: 42 });
    const r = await c.next('topics');
    assert.equal(r.id, 42);
    assert.deepEqual([...r.topics].sort(), [...FIVE].sort());
  });

  test('ping -> pong with the id and a ts near now', T, async () => {
    const c = await client({ label: 'ping' });
    const before = Date.now();
    c.send({ op: 'ping', id: 'p1' });
    const pong = await c.next('pong');
    const afterMs = Date.now();
    assert.equal(pong.id, 'p1');
    assert.ok(Number.isInteger(pong.ts));
    const tsMs = pong.ts / 1e6;
    assert.ok(tsMs >= before - 2000 && tsMs <= afterMs + 2000, `pong ts ${tsMs} near ${before}..${afterMs}`);
    c.send({ op: 'ping' });
    const bare = await c.next('pong');
    assert.equal(bare.id, undefined, 'no id in, no id out');
  });

  test('/ws?subscribe=ticker.BTC-USD,ticker.ETH-USD subscribes at connect', T, async () => {
    const c = await connect(`${gw.wsUrl}?subscribe=ticker.BTC-USD,ticker.ETH-USD`, { label: 'query' });
    clients.push(c);
    const welcome = await c.next(() => true);
    assert.equal(welcome.type, 'welcome');
    const ack = await c.next('subscribed');
    assert.deepEqual([...ack.topics].sort(), ['ticker.BTC-USD', 'ticker.ETH-USD']);
    await delay(800);
    const ups = c.updates();
    assert.deepEqual([...new Set(ups.map((u) => u.topic))].sort(), ['ticker.BTC-USD', 'ticker.ETH-USD']);
    for (const t of ['ticker.BTC-USD', 'ticker.ETH-USD']) {
      const mine = ups.filter((u) => u.topic === t);
      assert.equal(mine[0].snapshot, true);
      assert.ok(mine.length > 5);
      assertGapFree(mine, t);
    }
  });

  test('?subscribe= reports bad entries like a request without id and takes percent-encoding', T, async () => {
    const c = await connect(`${gw.wsUrl}?subscribe=ticker.BTC-USD,bogus,ticker.NOPE-USD,%2A.ETH-USD`, { label: 'query-bad' });
    clients.push(c);
    const bad = await c.next('error');
    assert.equal(bad.code, 'bad_request');
    assert.deepEqual(bad.topics, ['bogus']);
    assert.equal(bad.id, undefined);
    const unknown = await c.next('error');
    assert.equal(unknown.code, 'unknown_topic');
    assert.deepEqual(unknown.topics, ['ticker.NOPE-USD']);
    const ack = await c.next('subscribed');
    assert.deepEqual(ack.topics, ['ticker.BTC-USD', '*.ETH-USD']);
    await delay(500);
    assert.deepEqual([...new Set(c.updates().map((u) => u.topic))].sort(), ['ticker.BTC-USD', 'ticker.ETH-USD']);
  });
});

describe('patterns over topics that appear later (replay feed)', () => {
  let replayGw;
  let dir;
  after(async () => {
    if (replayGw) await replayGw.stop();
    dir?.cleanup();
  });

  test('a pattern subscribed before its topic exists delivers it as live updates once it appears', { timeout: 20000 }, async () => {
    dir = tempDir();
    const base = 1_700_000_000_000_000_000n;
    const lines = [];
    // ticker.OLD-USD every 50 ms for 6 s; ticker.NEW-USD from 2.5 s on.
    for (let ms = 0; ms <= 6000; ms += 50) {
      const ts = base + BigInt(ms) * 1_000_000n;
      lines.push(replayLine('ticker.OLD-USD', ts));
      if (ms >= 2500) lines.push(replayLine('ticker.NEW-USD', ts, { bid: '5.25', ask: '5.30', last: '5.27', size: '10.00' }));
    }
    const file = writeReplay(dir.dir, 'later.jsonl', lines);
    replayGw = await startGateway(['--feed', `replay:${file}`]);
    const c = await connectReady(replayGw.wsUrl, { label: 'later' });
    const all = await connectReady(replayGw.wsUrl, { label: 'later-all' });
    try {
      c.send({ op: 'list', id: 1 });
      const listed = await c.next('topics');
      assert.ok(!listed.topics.includes('ticker.NEW-USD'),
        `precondition: NEW-USD must not exist yet (the machine was too slow?): ${listed.topics}`);
      c.send({ op: 'subscribe', id: 2, topics: ['*.NEW-USD'] });
      const ack = await c.next('subscribed');
      assert.deepEqual(ack.topics, ['*.NEW-USD']);
      all.send({ op: 'subscribe', id: 3, topics: ['*.*'] });
      await all.next('subscribed');

      const first = await c.next((m) => m.topic === 'ticker.NEW-USD', 8000);
      assert.equal(first.snapshot, false, 'a topic appearing later arrives as a live update');
      assert.equal(first.seq, 1, 'from its first update on');
      assert.equal(first.bid, '5.25');
      await delay(400);
      const mine = c.updates();
      assert.deepEqual([...new Set(mine.map((u) => u.topic))], ['ticker.NEW-USD'], 'only the matching topic');
      assert.ok(mine.length >= 3);
      assertGapFree(mine, 'NEW-USD');
      checkUpdates(mine);

      const fromAll = all.updates().filter((u) => u.topic === 'ticker.NEW-USD');
      assert.ok(fromAll.length >= 3, '*.* also picks up the new topic');
      assert.equal(fromAll[0].seq, 1);
      assert.ok(all.updates().some((u) => u.topic === 'ticker.OLD-USD' && u.snapshot), '*.* got the snapshot of OLD');
    } finally {
      await c.close();
      await all.close();
    }
  });
});
