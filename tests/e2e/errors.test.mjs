// Bad requests and limits: error frames keep the connection usable; limits answer with the
// documented error codes and close codes; nobody else on the gateway loses anything meanwhile.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, connectReady, delay, scrape, startGateway, waitFor } from './support/gateway.mjs';
import { assertGapFree, withoutEpochs } from './support/checks.mjs';

// A topic exists once its first update went through, and these tests subscribe to exact tickers:
// a subscribe before the simulator's first update would get unknown_topic (seen in CI on
// 2026-12-05, where node_errors passed only on its retry).
async function startWithAllTickers(flags) {
  const gw = await startGateway(flags);
  await waitFor(async () => (await scrape(gw)).tickgate_topics >= 5, { timeoutMs: 10000, what: 'the 5 tickers published' });
  return gw;
}

const T = { timeout: 15000 };

async function sync(c, id) {
  c.send({ op: 'ping', id });
  return c.next((m) => m.type === 'pong' && m.id === id);
}

describe('bad requests (default limits)', () => {
  let gw;
  const clients = [];
  before(async () => { gw = await startWithAllTickers(['--symbols', '5']); });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await gw?.stop();
  });
  const client = async (label) => {
    const c = await connectReady(gw.wsUrl, { label });
    clients.push(c);
    return c;
  };

  test('malformed JSON, unknown op, wrong types and binary frames get bad_request; the connection stays usable', T, async () => {
    const c = await client('bad');
    const cases = [
      ['{not json', undefined],
      ['[1,2,3]', undefined],
      ['"subscribe"', undefined],
      [{ op: 'frobnicate', id: 5 }, 5],
      [{ id: 6, topics: ['ticker.BTC-USD'] }, 6],
      [{ op: 7, id: 7 }, 7],
      [{ op: 'subscribe', id: 8, topics: 'ticker.BTC-USD' }, 8],
      [{ op: 'subscribe', id: { nested: true }, topics: ['ticker.BTC-USD'] }, undefined],
      [{ op: 'subscribe', id: [1], topics: ['ticker.BTC-USD'] }, undefined],
      [{ op: 'subscribe', id: 10, topics: [1, 2] }, 10],
      [{ op: 'subscribe', id: 11 }, 11],
      [{ op: 'subscribe', id: 'e12', topics: [] }, 'e12'],
      [{ op: 'unsubscribe', id: 13, topics: { a: 'ticker.BTC-USD' } }, 13],
    ];
    for (const [msg] of cases) c.send(msg);
    c.ws.send(Buffer.from([1, 2, 3, 4]), { binary: true });
    await sync(c, 'sync-1');
    const errors = c.messages.filter((m) => m.type === 'error');
    assert.equal(errors.length, cases.length + 1, `one error per bad message: ${JSON.stringify(errors)}`);
    errors.forEach((e, i) => {
      assert.equal(e.code, 'bad_request', JSON.stringify(e));
      assert.equal(typeof e.message, 'string');
      assert.ok(e.message.length > 0);
      if (i < cases.length) assert.equal(e.id, cases[i][1], `error ${i} echoes the id: ${JSON.stringify(e)}`);
    });
    assert.ok(c.isOpen, 'still open after every bad message');
    assert.deepEqual(c.updates(), [], 'no bad request subscribed anything');

    c.send({ op: 'subscribe', id: 99, topics: ['ticker.BTC-USD'] });
    const ack = await c.next('subscribed');
    assert.deepEqual(withoutEpochs(ack), { type: 'subscribed', id: 99, topics: ['ticker.BTC-USD'] });
    const snap = await c.next((m) => m.topic === 'ticker.BTC-USD');
    assert.equal(snap.snapshot, true);
    await c.next((m) => m.topic === 'ticker.BTC-USD' && m.seq === snap.seq + 1);
  });

  test('malformed entries and unknown topics are reported with the id; the valid entries are acked after', T, async () => {
    const c = await client('entries');
    c.send({
      op: 'subscribe',
      id: 21,
      topics: ['ticker.BTC-USD', 'bogus', 'ticker.NOPE-USD', 'Ticker.ETH-USD', 'error.BTC-USD', 'ticker.btc-usd',
        '*.ETH-USD', 'ticker.**'],
    });
    const bad = await c.next((m) => m.type === 'error' && m.code === 'bad_request');
    assert.equal(bad.id, 21);
    assert.deepEqual(bad.topics, ['bogus', 'Ticker.ETH-USD', 'error.BTC-USD', 'ticker.btc-usd', 'ticker.**']);
    c.cursor = 0;
    const unknown = await c.next((m) => m.type === 'error' && m.code === 'unknown_topic');
    assert.equal(unknown.id, 21);
    assert.deepEqual(unknown.topics, ['ticker.NOPE-USD']);
    c.cursor = 0;
    const ack = await c.next('subscribed');
    assert.deepEqual(withoutEpochs(ack), { type: 'subscribed', id: 21, topics: ['ticker.BTC-USD', '*.ETH-USD'] });
    assert.ok(c.messages.indexOf(ack) > c.messages.indexOf(bad), 'ack after the bad_request error');
    assert.ok(c.messages.indexOf(ack) > c.messages.indexOf(unknown), 'ack after the unknown_topic error');
    await delay(500);
    const topics = [...new Set(c.updates().map((u) => u.topic))].sort();
    assert.deepEqual(topics, ['ticker.BTC-USD', 'ticker.ETH-USD']);

    // Unsubscribing a malformed entry is a bad_request too, listing it, and the ack follows.
    c.send({ op: 'unsubscribe', id: 22, topics: ['nonsense', 'ticker.BTC-USD'] });
    const badUnsub = await c.next((m) => m.type === 'error' && m.id === 22);
    assert.equal(badUnsub.code, 'bad_request');
    assert.deepEqual(badUnsub.topics, ['nonsense']);
    const unack = await c.next('unsubscribed');
    assert.deepEqual(unack, { type: 'unsubscribed', id: 22, topics: ['ticker.BTC-USD'] });
  });

  test('ill-formed or unservable interval suffixes are refused with their reason; a served one is acked; the connection survives', T, async () => {
    const c = await client('throttle');
    c.send({
      op: 'subscribe',
      id: 31,
      topics: ['ticker.BTC-USD@200ms', 'trade.BTC-USD@1000ms', 'trade.*@250ms', 'Ticker.X@1000ms', 'chat.lobby@500ms', 'ticker.*@1000ms',
        'ticker.ETH-USD'],
    });
    const errors = [];
    for (let i = 0; i < 4; i++) {
      errors.push(await c.next((m) => m.type === 'error' && m.id === 31 && !errors.includes(m)));
    }
    const byTopics = Object.fromEntries(errors.map((e) => [e.topics.join(','), e]));
    for (const e of errors) assert.equal(e.code, 'bad_request', JSON.stringify(e));
    assert.match(byTopics['ticker.BTC-USD@200ms'].message, /@100ms, @250ms, @500ms, @1000ms, @5000ms/);
    assert.match(byTopics['trade.BTC-USD@1000ms,trade.*@250ms'].message, /trade is never superseded/);
    assert.match(byTopics['Ticker.X@1000ms'].message, /not a topic/);
    assert.match(byTopics['chat.lobby@500ms'].message, /room cannot be throttled/);
    // Well formed and servable: the next reply to 31 is the ack, not a fifth error.
    const ack = await c.next((m) => m.id === 31 && !errors.includes(m));
    assert.deepEqual(withoutEpochs(ack), { type: 'subscribed', id: 31, topics: ['ticker.*@1000ms', 'ticker.ETH-USD'] });
    assert.ok(c.messages.indexOf(ack) > Math.max(...errors.map((e) => c.messages.indexOf(e))), 'ack after the errors');
    await c.next((m) => m.topic === 'ticker.ETH-USD' && m.snapshot === true);
    await sync(c, 32);
  });
});

describe('limits (--max-subscriptions 3, --client-rate 5, --max-message-bytes 256)', () => {
  let gw;
  let observer;
  const clients = [];
  before(async () => {
    gw = await startWithAllTickers(['--symbols', '5', '--max-subscriptions', '3', '--client-rate', '5',
      '--max-message-bytes', '256']);
    observer = await connectReady(gw.wsUrl, { label: 'observer' });
    // A pattern: just after start an exact topic may not be published yet (unknown_topic), which
    // once left this observer without ETH-USD on a loaded machine.
    observer.send({ op: 'subscribe', id: 1, topics: ['ticker.*'] });
    await observer.next('subscribed');
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await observer?.close();
    await gw?.stop();
  });
  const client = async (label) => {
    const c = await connectReady(gw.wsUrl, { label });
    clients.push(c);
    return c;
  };

  test('--max-subscriptions 3: too_many_subscriptions lists the extra entries', T, async () => {
    const c = await client('max-subs');
    c.send({ op: 'subscribe', id: 1, topics: ['ticker.BTC-USD', 'ticker.*', '*.ETH-USD', 'ticker.SOL-USD', 'ticker.XRP-USD'] });
    const err = await c.next('error');
    assert.equal(err.code, 'too_many_subscriptions');
    assert.equal(err.id, 1);
    assert.deepEqual(err.topics, ['ticker.SOL-USD', 'ticker.XRP-USD']);
    const ack = await c.next('subscribed');
    assert.deepEqual(ack.topics, ['ticker.BTC-USD', 'ticker.*', '*.ETH-USD']);

    c.send({ op: 'subscribe', id: 2, topics: ['*.ADA-USD'] });
    const again = await c.next('error');
    assert.equal(again.code, 'too_many_subscriptions');
    assert.deepEqual(again.topics, ['*.ADA-USD']);

    c.send({ op: 'unsubscribe', id: 3, topics: ['ticker.*'] });
    await c.next('unsubscribed');
    c.send({ op: 'subscribe', id: 4, topics: ['*.ADA-USD'] });
    const ok = await c.next('subscribed');
    assert.deepEqual(withoutEpochs(ok), { type: 'subscribed', id: 4, topics: ['*.ADA-USD'] });
  });

  test('--client-rate 5: a burst above 10 is rate_limited, the client recovers, continued flooding closes 1008', T, async () => {
    const c = await client('flood');
    // A sender that respects the limit is never limited: pace below 5/s for a moment. (The
    // welcome's own budget is full: 10 tokens.)
    for (let i = 0; i < 12; ++i) c.send({ op: 'ping', id: i });
    await delay(300);
    const pongs = c.messages.filter((m) => m.type === 'pong');
    const limited = c.messages.filter((m) => m.type === 'error' && m.code === 'rate_limited');
    assert.ok(pongs.length >= 10 && pongs.length <= 11, `the burst of 10 is served (got ${pongs.length} pongs)`);
    assert.ok(limited.length >= 1, 'the excess gets rate_limited');
    assert.equal(pongs.length + limited.length, 12, 'every message is answered: a pong or a rate_limited error');
    assert.ok(c.isOpen, 'a short burst does not close the connection');

    await delay(1000);  // tokens refill at 5/s
    c.send({ op: 'ping', id: 'recovered' });
    const pong = await c.next((m) => m.type === 'pong' && m.id === 'recovered');
    assert.equal(pong.id, 'recovered');

    for (let i = 0; i < 60; ++i) c.send({ op: 'ping', id: `f${i}` });
    const closed = await c.waitClosed(5000);
    assert.ok(closed, 'continued flooding closes the connection');
    assert.equal(closed.code, 1008);
    assert.match(closed.reason, /rate/);
  });

  test('--max-message-bytes 256: a 200-byte request is fine, a 1 KB message closes with 1009', T, async () => {
    const c = await client('big');
    const small = JSON.stringify({ op: 'ping', id: 'x'.repeat(150) });
    assert.ok(small.length > 150 && small.length < 256);
    c.send(small);
    const pong = await c.next('pong');
    assert.equal(pong.id.length, 150);
    c.send(JSON.stringify({ op: 'ping', id: 'y'.repeat(1024) }));
    const closed = await c.waitClosed(5000);
    assert.ok(closed, 'closed after the oversized message');
    assert.equal(closed.code, 1009);
  });

  test('meanwhile another client on the gateway lost nothing: gap-free seq, still open', T, async () => {
    await delay(300);
    assert.ok(observer.isOpen);
    const ups = observer.updates();
    for (const t of ['ticker.BTC-USD', 'ticker.ETH-USD']) {
      const mine = ups.filter((u) => u.topic === t);
      assert.ok(mine.length > 50, `${t}: ${mine.length} updates`);
      assertGapFree(mine, `observer ${t}`);
    }
    assert.deepEqual(observer.messages.filter((m) => m.type === 'error'), []);
    // And it is still live right now.
    await observer.nextNew((m) => m.topic === 'ticker.BTC-USD');
  });
});

describe('connection limits (--max-connections 2)', () => {
  test('a third connection gets HTTP 503; once one leaves, a new one is admitted', { timeout: 15000 }, async () => {
    const gw = await startGateway(['--symbols', '2', '--max-connections', '2']);
    const cs = [];
    try {
      cs.push(await connectReady(gw.wsUrl, { label: 'a' }), await connectReady(gw.wsUrl, { label: 'b' }));
      await assert.rejects(connect(gw.wsUrl, { label: 'c' }), (err) => err.statusCode === 503);
      assert.ok(cs[0].isOpen && cs[1].isOpen, 'the admitted ones are untouched');
      await cs[0].close();
      const d = await waitFor(() => connectReady(gw.wsUrl, { label: 'd' }).catch(() => null),
        { timeoutMs: 5000, intervalMs: 200, what: 'a slot to free up' });
      cs.push(d);
      d.send({ op: 'subscribe', id: 1, topics: ['ticker.*'] });
      await d.next('subscribed');
    } finally {
      await Promise.all(cs.map((c) => c.close()));
      await gw.stop();
    }
  });
});
