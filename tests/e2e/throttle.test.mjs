// Throttled subscriptions (protocol/README.md, "Throttled subscriptions") end to end, with npm `ws`
// and socket.io-client against the real gateway fed by its simulator: each throttled message
// arrives at a multiple of its interval, carries the newest value, books chain and checksum
// (support/book.mjs), overlaps go at the fastest rate, trades and rooms are never throttled, and
// the work is shared per (topic, interval).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { connectReady, delay, scrape, startGateway, waitFor } from './support/gateway.mjs';
import { BookKeeper } from './support/book.mjs';
import { assertGapFree, withoutEpochs } from './support/checks.mjs';

const SANITIZED = process.env.TICKGATE_SANITIZED === '1';
// Lateness allowed past the interval at p99: 5 ms as the issue asks; more under ASan+UBSan, whose
// gateway runs several times slower.
const SLACK_MS = SANITIZED ? 40 : 5;
const FLAGS = ['--symbols', '3', '--rate', '300', '--book-rate', SANITIZED ? '600' : '1500', '--trade-rate', '300',
  '--publish-channels', 'chat'];
const T = { timeout: 30000 };
const tsMs = (m) => Number(m.ts) / 1e6;
const live = (messages, topic) => messages.filter((m) => m.topic === topic && m.snapshot === false);

function p99(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))];
}

/** Asserts the throttled live messages of one topic: on time, one per tick, at the tick's moment. */
function assertOnTicks(messages, topic, interval, what) {
  const got = live(messages, topic);
  assert.ok(got.length > 0, `${what}: ${topic} sent nothing`);
  const lags = got.map((m) => m.__at - tsMs(m));
  assert.ok(p99(lags) <= interval + SLACK_MS, `${what}: ${topic} receive - ts p99 ${p99(lags)} ms > ${interval} + ${SLACK_MS}`);
  const ticks = got.map((m) => Math.round(m.__at / interval));
  assert.equal(new Set(ticks).size, ticks.length, `${what}: ${topic} got two messages in one ${interval} ms tick`);
  // Sent at the multiple of the interval: received a few ms after it.
  const late = got.map((m) => m.__at - Math.round(m.__at / interval) * interval).filter((d) => d < -2 || d > 3 * SLACK_MS + 10);
  assert.ok(late.length <= got.length / 10, `${what}: ${topic} arrivals off the tick by ${late.slice(0, 5)} ms`);
  return got;
}

describe(`throttled subscriptions (${FLAGS.join(' ')}, 2 workers)`, () => {
  let gw;
  const clients = [];
  const client = async (label) => {
    const c = await connectReady(gw.wsUrl, { label });
    clients.push(c);
    return c;
  };
  before(async () => {
    gw = await startGateway(FLAGS, { threads: 2 });
    await waitFor(async () => (await scrape(gw)).tickgate_topics >= 12, { timeoutMs: 10000, what: '12 topics published' });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    const exit = await gw?.stop();
    assert.equal(exit?.code, 0, `tickgate exit ${JSON.stringify(exit)}`);
  });

  // First, while no other client holds a stream: the count is per (topic, interval) and worker.
  test('streams are shared: four clients on ticker.*@100ms and book50.*@100ms are 6 streams per worker, not 24, each serialized once per tick', T, async () => {
    const before = await scrape(gw);
    const t0 = Date.now();
    const four = [];
    for (let i = 0; i < 4; ++i) four.push(await client(`shared${i}`));  // dealt round-robin: two per worker
    for (const c of four) await c.request({ op: 'subscribe', id: 1, topics: ['ticker.*@100ms', 'book50.*@100ms'] }, 'subscribed');
    await delay(600);
    const s = await scrape(gw);
    const elapsed = Date.now() - t0;
    assert.equal(s.tickgate_throttled_streams, 12, '(3 tickers + 3 book50 views) x 2 workers');
    const sent = s.tickgate_throttled_messages_total - (before.tickgate_throttled_messages_total ?? 0);
    assert.ok(sent >= 4 * 6 * 3, `${sent} throttled messages`);
    // A ticker goes out in the frame already made for raw subscribers; a book view's merged delta is
    // made once per stream and tick (plus a chain link per client that joined between ticks), not
    // once per client: at most 3 views x 2 workers per 100 ms tick, whatever the four clients.
    const encoded = s.tickgate_throttled_frames_encoded_total - (before.tickgate_throttled_frames_encoded_total ?? 0);
    const bound = 3 * 2 * (Math.ceil(elapsed / 100) + 1) + 4 * 3;
    assert.ok(encoded > 0 && encoded <= bound, `${encoded} frames encoded in ${elapsed} ms (bound ${bound}; ${sent} sent)`);
    for (const c of four) assertOnTicks(c.messages, 'book50.SOL-USD', 100, c.label);
    for (const c of four) assertOnTicks(c.messages, 'ticker.BTC-USD', 100, c.label);
    await Promise.all(four.map((c) => c.close()));
    await waitFor(async () => (await scrape(gw)).tickgate_throttled_streams === 0,
      { timeoutMs: 3000, what: 'the streams to go with their clients' });
  });

  test('mixed intervals on one connection: each topic on time, at most once per tick, the newest value', T, async () => {
    const c = await client('mixed');
    const raw = await client('raw');
    await raw.request({ op: 'subscribe', id: 1, topics: ['ticker.BTC-USD', 'ticker.ETH-USD'] }, 'subscribed');
    const ack = await c.request({ op: 'subscribe', id: 1, topics: ['ticker.BTC-USD@250ms', 'ticker.ETH-USD@1000ms'] }, 'subscribed');
    assert.deepEqual(ack.topics, ['ticker.BTC-USD@250ms', 'ticker.ETH-USD@1000ms'], 'the ack echoes the entries as written');
    assert.ok(ack.epochs['ticker.BTC-USD'] && ack.epochs['ticker.ETH-USD'], JSON.stringify(ack));
    const snapshots = c.messages.filter((m) => m.snapshot === true);
    assert.deepEqual(snapshots.map((m) => m.topic).sort(), ['ticker.BTC-USD', 'ticker.ETH-USD'], 'snapshots at once');
    const started = Date.now();
    await delay(3300);
    const elapsed = Date.now() - started;
    const btc = assertOnTicks(c.messages, 'ticker.BTC-USD', 250, 'mixed');
    const eth = assertOnTicks(c.messages, 'ticker.ETH-USD', 1000, 'mixed');
    assert.ok(Math.abs(btc.length - elapsed / 250) <= 2, `${btc.length} BTC-USD messages in ${elapsed} ms at 250 ms`);
    assert.ok(Math.abs(eth.length - elapsed / 1000) <= 1, `${eth.length} ETH-USD messages in ${elapsed} ms at 1000 ms`);
    // Each is the newest value at its tick: no raw update of the topic from before the tick (by a
    // margin for the feed-to-worker hop) has a higher seq; and raw shows what the gaps skipped.
    for (const [topic, interval, got] of [['ticker.BTC-USD', 250, btc], ['ticker.ETH-USD', 1000, eth]]) {
      const rawOnes = live(raw.messages, topic);
      for (const m of got) {
        const tick = Math.round(m.__at / interval) * interval;
        const newer = rawOnes.filter((r) => tsMs(r) < tick - 5 && r.seq > m.seq);
        assert.deepEqual(newer.map((r) => r.seq), [], `${topic} seq ${m.seq} at ${tick} is not the newest`);
        const same = rawOnes.find((r) => r.seq === m.seq);
        if (same) assert.equal(JSON.stringify(same), JSON.stringify(m), 'the same message as raw, byte for byte');
      }
      assert.ok(got.some((m, i) => i > 0 && m.seq > got[i - 1].seq + 1), `${topic}: seq gaps show what was skipped`);
    }
    assertGapFree(live(raw.messages, 'ticker.BTC-USD'), 'the raw client beside it');
  });

  test('*.*@250ms delivers tickers and books (verified), never trades; trade and room entries are refused', T, async () => {
    const c = await client('all');
    const listed = (await c.request({ op: 'list', id: 9 }, 'topics')).topics;
    const ack = await c.request({ op: 'subscribe', id: 1, topics: ['*.*@250ms'] }, 'subscribed');
    assert.deepEqual(ack.topics, ['*.*@250ms']);
    // list names the topics, as before: intervals belong to subscriptions, not to topics.
    assert.deepEqual((await c.request({ op: 'list', id: 10 }, 'topics')).topics, listed);
    assert.ok(listed.includes('trade.BTC-USD') && !listed.some((t) => t.includes('@')), `${listed}`);
    assert.ok(!Object.keys(ack.epochs).some((t) => t.startsWith('trade.')), `no trade topic covered: ${Object.keys(ack.epochs)}`);
    await delay(2000);
    const topics = new Set(c.messages.filter((m) => m.topic).map((m) => m.topic));
    for (const t of ['ticker.BTC-USD', 'book.ETH-USD', 'book50.SOL-USD']) assert.ok(topics.has(t), `${t} in ${[...topics]}`);
    assert.ok(![...topics].some((t) => t.startsWith('trade.')), `no trades: ${[...topics]}`);
    const keeper = new BookKeeper();
    for (const m of c.messages) keeper.apply(m);
    for (const t of ['book.BTC-USD', 'book50.ETH-USD']) {
      assert.equal(keeper.get(t).snapshots, 1);
      assert.ok(keeper.get(t).messages >= 6, `${t}: ${keeper.get(t).messages} messages`);
      assertOnTicks(c.messages, t, 250, 'all');
    }

    const err = await c.request({ op: 'subscribe', id: 2, topics: ['trade.*@250ms', 'chat.*@1000ms', 'chat.lobby@500ms',
      'ticker.BTC-USD@3s', 'ticker.BTC-USD@0ms'] }, 'error');
    const errors = [err, ...c.messages.slice(c.messages.indexOf(err) + 1).filter((m) => m.type === 'error' && m.id === 2)];
    await c.request({ op: 'ping', id: 3 }, 'pong');  // still usable
    const by = Object.fromEntries(errors.map((e) => [e.topics.join(','), e]));
    assert.match(by['trade.*@250ms'].message, /trade is never superseded/);
    assert.match(by['chat.*@1000ms'].message, /publishable channel cannot be throttled/);
    assert.match(by['chat.lobby@500ms'].message, /room cannot be throttled/);
    assert.match(by['ticker.BTC-USD@3s,ticker.BTC-USD@0ms'].message, /@100ms, @250ms, @500ms, @1000ms, @5000ms/);
    for (const e of errors) assert.equal(e.code, 'bad_request');
  });

  test('overlaps: once, at the fastest rate; a book stays exact through every change of rate', T, async () => {
    const c = await client('overlap');
    await c.request({ op: 'subscribe', id: 1, topics: ['ticker.BTC-USD', 'ticker.*@1000ms', 'book.BTC-USD@1000ms', 'book.*@250ms'] },
      'subscribed');
    await delay(2100);
    const btc = live(c.messages, 'ticker.BTC-USD');
    assert.ok(btc.length >= 100, `raw beats the pattern's 1000 ms: ${btc.length} in 2.1 s`);
    assertGapFree(btc, 'ticker.BTC-USD raw beside ticker.*@1000ms');
    assert.ok(live(c.messages, 'ticker.ETH-USD').length <= 3);
    assertOnTicks(c.messages, 'book.BTC-USD', 250, 'overlap');
    assert.equal(c.messages.filter((m) => m.topic === 'book.BTC-USD' && m.snapshot).length, 1, 'one snapshot, one stream');

    // Without the faster entries, the slower ones go on.
    // Counted from the ack: raw updates queued before the server read the unsubscribe still come
    // ahead of it (an ASan run on a busy machine counted one such, so 4 in the window).
    const ack = await c.request({ op: 'unsubscribe', id: 2, topics: ['ticker.BTC-USD', 'book.*@250ms'] }, 'unsubscribed');
    await delay(2300);
    const after = c.messages.slice(c.messages.indexOf(ack) + 1);
    assert.ok(live(after, 'ticker.BTC-USD').length <= 3, `BTC-USD back at 1000 ms: ${live(after, 'ticker.BTC-USD').length}`);
    assertOnTicks(after, 'book.BTC-USD', 1000, 'overlap, after');
    assert.equal(live(after, 'book.ETH-USD').length, 0, 'book.ETH-USD was only covered by the removed pattern');
    // Raw again on a book held at 1000 ms, then back: the client's book verifies all along.
    await c.request({ op: 'subscribe', id: 3, topics: ['book.BTC-USD'] }, 'subscribed');
    await delay(500);
    await c.request({ op: 'unsubscribe', id: 4, topics: ['book.BTC-USD'] }, 'unsubscribed');
    await delay(1200);
    const keeper = new BookKeeper();
    for (const m of c.messages) keeper.apply(m);
    assert.ok(keeper.get('book.BTC-USD').messages > 20);
  });

  test('clients joining a book stream between ticks chain from their own snapshot, then share its messages', T, async () => {
    const joined = [];
    for (const wait of [0, 37, 161, 290]) {
      await delay(wait);
      const c = await client(`join+${wait}`);
      await c.request({ op: 'subscribe', id: 1, topics: ['book.BTC-USD@500ms', 'book50.*@100ms'] }, 'subscribed');
      joined.push(c);
    }
    await delay(2200);
    const streams = [];
    for (const c of joined) {
      const keeper = new BookKeeper();
      for (const m of c.messages) keeper.apply(m);  // throws on a broken chain or checksum
      assert.equal(keeper.get('book.BTC-USD').snapshots, 1);
      assertOnTicks(c.messages, 'book.BTC-USD', 500, c.label);
      assertOnTicks(c.messages, 'book50.SOL-USD', 100, c.label);
      streams.push(c.raw.filter((t) => t.includes('"topic":"book.BTC-USD"')));
    }
    // Connections go round robin to the two workers, so clients 0 and 2 share one, 1 and 3 the
    // other. From the first message both have, the clients of one worker get the very same bytes:
    // one serialization per stream and worker (workers tick with the newest message each has, so
    // across workers they may differ by one).
    for (const [a, b] of [[0, 2], [1, 3]]) {
      // A link is (prev_seq, seq): a joiner's first delta chains from its own snapshot.
      const links = (s) => s.map((t) => { const m = JSON.parse(t); return `${m.prev_seq}>${m.seq}`; });
      const [sa, sb] = [streams[a], streams[b]];
      const start = links(sa).findIndex((q) => links(sb).includes(q));
      assert.ok(start >= 0, `${joined[a].label} and ${joined[b].label} share no book message`);
      const from = [sa.slice(start), sb.slice(links(sb).indexOf(links(sa)[start]))];
      const n = Math.min(from[0].length, from[1].length);
      assert.ok(n >= 3, `only ${n} shared book messages`);
      assert.deepEqual(from[0].slice(0, n), from[1].slice(0, n), `${joined[a].label} and ${joined[b].label}: one serialization per stream`);
    }
  });

  test('Socket.IO: the same entries, at their rate, books verified', T, async () => {
    const s = io(gw.httpsUrl, { rejectUnauthorized: false, reconnection: false, transports: ['websocket'] });
    const seen = [];
    for (const event of ['ticker', 'book', 'trade']) s.on(event, (m) => seen.push(Object.assign(m, { __event: event, __at: Date.now() })));
    try {
      await new Promise((resolve, reject) => { s.once('connect', resolve); s.once('connect_error', reject); });
      const reply = await new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no ack for subscribe')), 5000);
        s.emit('subscribe', ['ticker.*@500ms', 'book.BTC-USD@250ms', 'trade.*@250ms'], (r) => { clearTimeout(t); resolve(r); });
      });
      const { error, ...granted } = reply;
      assert.deepEqual(withoutEpochs(granted), { topics: ['ticker.*@500ms', 'book.BTC-USD@250ms'] });
      // The refusal rides in the ack, with its reason, as for any refused entry.
      assert.equal(error?.code, 'bad_request', JSON.stringify(reply));
      assert.deepEqual(error.topics, ['trade.*@250ms']);
      assert.match(error.message, /trade is never superseded/);
      await delay(2100);
    } finally {
      s.close();
    }
    for (const m of seen) assert.notEqual(m.__event, 'trade');
    for (const m of seen) Object.defineProperty(m, '__at', { enumerable: false });
    assertOnTicks(seen, 'ticker.ETH-USD', 500, 'Socket.IO');
    assertOnTicks(seen, 'book.BTC-USD', 250, 'Socket.IO');
    const keeper = new BookKeeper();
    for (const m of seen) keeper.apply(m);
    assert.ok(keeper.get('book.BTC-USD').messages >= 6);
  });
});
