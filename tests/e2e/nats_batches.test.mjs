// The publisher's batched live subject (tickgate-feed --live-batches, protocol/README.md "The
// batched live subject"): gateways of this release watch md-live, read the batches instead of the
// per-topic subjects once they come and go back when they stop; --nats-subjects filters the
// batches as nats-server filters the subjects; a late gateway joins from JetStream without a gap;
// foreign messages on md-live neither switch a gateway nor get through.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { delay, scrape, startGateway, waitFor } from './support/gateway.mjs';
import {
  busMessageV2, busRecord, liveByTopic, orderProblems, rawPublish, scrapeUrl, startNats, startPublisher, v2Group,
  v2Ticker,
  assertSameOnBoth as sameOnBoth, connectedGateway, subscribedClient,
} from './support/nats.mjs';

const TOPICS = ['ticker.BTC-USD', 'ticker.ETH-USD', 'ticker.SOL-USD'];
const assertSameOnBoth = (a, b, topics = TOPICS) => sameOnBoth(a, b, topics);
const BATCHING = ['--bus-version', '2', '--live-batches'];

const metric = async (gw, nats, name) => (await scrape(gw))[`${name}{feed="${nats.url}"}`];

describe('a batching publisher, a gateway on the batches and one on the per-topic subjects', () => {
  const stops = [];
  after(async () => { for (const s of stops.reverse()) await s(); });

  test('both deliver the same (topic, seq, payload); the batched one reads fewer messages', { timeout: 60000 }, async () => {
    const nats = await startNats();
    stops.push(() => nats.stop());
    const pub = await startPublisher(nats.url, ['--symbols', '3', '--rate', '600', '--flush-window-us', '5000',
      ...BATCHING]);
    stops.push(() => pub.stop());
    const batched = await connectedGateway(nats, stops);  // --nats-live-subject auto: md-live
    const perTopic = await connectedGateway(nats, stops, ['--nats-live-subject', 'none']);
    const a = await subscribedClient(batched, 'batched', stops);
    const b = await subscribedClient(perTopic, 'per-topic', stops);
    await waitFor(() => [a, b].every((c) => TOPICS.every((t) => (liveByTopic(c).get(t) ?? []).length >= 60)),
      { timeoutMs: 20000, what: '60 live updates per topic on both gateways' });
    assertSameOnBoth(a, b);

    assert.equal(await metric(batched, nats, 'tickgate_upstream_batched'), 1);
    assert.equal(await metric(perTopic, nats, 'tickgate_upstream_batched'), 0);
    assert.match(batched.stderr, /the publisher sends batches on md-live: reading those instead of md\.>/);
    for (const gw of [batched, perTopic]) {
      assert.equal(await metric(gw, nats, 'tickgate_upstream_decode_errors_total'), 0);
      assert.equal(await metric(gw, nats, 'tickgate_upstream_filtered_total'), 0);
    }
    // At 600/s with a 5 ms window the publisher writes at most ~200 times a second, one batch
    // each: the batched gateway takes several updates per message, the other one per message.
    const p = await scrapeUrl(pub.metricsUrl);
    assert.ok(p.tickgate_feed_live_batches_total > 0);
    assert.ok(p.tickgate_feed_published_total >= 2 * p.tickgate_feed_live_batches_total,
      `${p.tickgate_feed_published_total} updates in ${p.tickgate_feed_live_batches_total} batches`);
    // One scrape each: the counters go on moving.
    const counts = async (gw) => {
      const m = await scrape(gw);
      const feed = `{feed="${nats.url}"}`;
      return { updates: m[`tickgate_feed_updates_total${feed}`], messages: m[`tickgate_upstream_messages_total${feed}`] };
    };
    const cb = await counts(batched);
    const cp = await counts(perTopic);
    assert.ok(cb.messages * 2 <= cb.updates, `batched: several updates per message (${JSON.stringify(cb)})`);
    assert.ok(cp.messages >= cp.updates, `per-topic: a message per update (${JSON.stringify(cp)})`);
  });
});

describe('a gateway started after a batching publisher', () => {
  const stops = [];
  after(async () => { for (const s of stops.reverse()) await s(); });

  test('takes JetStream\'s latest values, then the batches: no gap, no duplicate', { timeout: 60000 }, async () => {
    const nats = await startNats();
    stops.push(() => nats.stop());
    const pub = await startPublisher(nats.url, ['--symbols', '3', '--rate', '300', '--flush-window-us', '2000',
      ...BATCHING]);
    stops.push(() => pub.stop());
    await waitFor(async () => (await scrapeUrl(pub.metricsUrl)).tickgate_feed_published_total >= 150,
      { timeoutMs: 10000, what: '150 updates published' });
    // The client subscribes to the pattern as soon as it can: what it sees of each topic starts
    // at the value the gateway loaded or at the snapshot, and every seq after it must follow.
    const gw = await startGateway(['--feed', nats.url]);
    stops.push(() => gw.stop());
    const c = await subscribedClient(gw, 'late', stops);
    await waitFor(() => TOPICS.every((t) => c.messages.filter((m) => m.topic === t).length >= 40),
      { timeoutMs: 15000, what: '40 messages per topic' });
    for (const t of TOPICS) {
      const seqs = c.messages.filter((m) => m.topic === t && typeof m.seq === 'number').map((m) => m.seq);
      assert.ok(seqs[0] >= 40, `${t}: starts at the publisher's seq (${seqs[0]}), not from 1`);
      const problems = seqs.slice(1).map((s, i) => (s === seqs[i] + 1 ? null : `${seqs[i]} -> ${s}`)).filter(Boolean);
      assert.deepEqual(problems, [], `${t}: every seq once, in order, from the first`);
    }
    assert.equal(await metric(gw, nats, 'tickgate_upstream_batched'), 1);
    assert.match(gw.stderr, /latest values from JetStream/);
  });
});

describe('--nats-subjects on the batches', () => {
  const stops = [];
  after(async () => { for (const s of stops.reverse()) await s(); });

  test('a gateway for one topic gets only that topic, from the batches or the subject', { timeout: 60000 }, async () => {
    const nats = await startNats();
    stops.push(() => nats.stop());
    const pub = await startPublisher(nats.url, ['--symbols', '3', '--rate', '300', '--flush-window-us', '2000',
      ...BATCHING]);
    stops.push(() => pub.stop());
    const only = ['--nats-subjects', 'md.ticker.ETH-USD'];
    // Named: it reads md-live and filters; auto: a narrow --nats-subjects stays on the subject.
    const fromBatches = await connectedGateway(nats, stops, [...only, '--nats-live-subject', 'md-live']);
    const fromSubject = await connectedGateway(nats, stops, only);
    const a = await subscribedClient(fromBatches, 'filter-batches', stops);
    const b = await subscribedClient(fromSubject, 'filter-subject', stops);
    await waitFor(() => [a, b].every((c) => (liveByTopic(c).get('ticker.ETH-USD') ?? []).length >= 40),
      { timeoutMs: 20000, what: '40 ETH-USD updates on both' });
    for (const c of [a, b]) assert.deepEqual([...liveByTopic(c).keys()], ['ticker.ETH-USD']);
    assertSameOnBoth(a, b, ['ticker.ETH-USD']);
    assert.equal(await metric(fromBatches, nats, 'tickgate_upstream_batched'), 1);
    assert.ok(await metric(fromBatches, nats, 'tickgate_upstream_filtered_total') >= 60, 'the other two topics skipped');
    assert.equal(await metric(fromSubject, nats, 'tickgate_upstream_batched'), 0);
    assert.match(fromSubject.stderr, /subscribed to md\.ticker\.ETH-USD/);
    assert.doesNotMatch(fromSubject.stderr, /watching md-live/);
    for (const gw of [fromBatches, fromSubject]) assert.equal((await scrape(gw)).tickgate_topics, 1);
  });
});

describe('the batches stop (publisher stopped, restarted without --live-batches)', () => {
  const stops = [];
  after(async () => { for (const s of stops.reverse()) await s(); });

  test('the gateway goes back to the per-topic subjects and seq continues', { timeout: 90000 }, async () => {
    const nats = await startNats();
    stops.push(() => nats.stop());
    const flags = ['--symbols', '3', '--rate', '150'];
    const v2 = await startPublisher(nats.url, [...flags, ...BATCHING, '--flush-window-us', '1000']);
    stops.push(() => v2.stop());
    const gw = await connectedGateway(nats, stops);
    const c = await subscribedClient(gw, 'downgrade', stops);
    await waitFor(async () => await metric(gw, nats, 'tickgate_upstream_batched') === 1,
      { timeoutMs: 10000, what: 'the gateway on the batches' });
    await waitFor(() => TOPICS.every((t) => (liveByTopic(c).get(t) ?? []).length >= 10),
      { timeoutMs: 20000, what: '10 batched updates per topic' });
    // A quiet spell of the market is not a publisher gone: the empty keepalive batches hold.
    assert.equal((await v2.stop()).code, 0);
    const before = new Map(TOPICS.map((t) => [t, liveByTopic(c).get(t).at(-1).seq]));
    await waitFor(async () => await metric(gw, nats, 'tickgate_upstream_batched') === 0,
      { timeoutMs: 5000, what: 'the gateway back on md.>' });
    assert.match(gw.stderr, /no batch on md-live for 1000 ms: back to md\.>/);

    const v1 = await startPublisher(nats.url, flags);  // bus v1: per-topic subjects only
    stops.push(() => v1.stop());
    await waitFor(() => TOPICS.every((t) => liveByTopic(c).get(t).at(-1).seq >= before.get(t) + 10),
      { timeoutMs: 20000, what: '10 v1 updates per topic' });
    for (const t of TOPICS) {
      const entries = liveByTopic(c).get(t);
      assert.deepEqual(orderProblems(entries), [], `${t}: no duplicate or backwards seq`);
      const i = entries.findIndex((e) => e.seq === before.get(t));
      assert.equal(entries[i + 1].seq, before.get(t) + 1, `${t}: the v1 publisher continues the seq`);
    }
    assert.equal(await metric(gw, nats, 'tickgate_upstream_batched'), 0);
    assert.equal(await metric(gw, nats, 'tickgate_upstream_decode_errors_total'), 0);
  });

  test('a quiet batching publisher keeps its gateways on the batches', { timeout: 30000 }, async () => {
    const nats = await startNats();
    stops.push(() => nats.stop());
    // Two updates a second: most of every second without one, well past the 1 s silence rule.
    const pub = await startPublisher(nats.url, ['--symbols', '1', '--rate', '0.5', ...BATCHING]);
    stops.push(() => pub.stop());
    const gw = await connectedGateway(nats, stops);
    await waitFor(async () => await metric(gw, nats, 'tickgate_upstream_batched') === 1,
      { timeoutMs: 10000, what: 'the gateway on the batches' });
    await delay(3000);
    assert.equal(await metric(gw, nats, 'tickgate_upstream_batched'), 1);
    assert.doesNotMatch(gw.stderr, /no batch on md-live/);
  });
});

describe('foreign and malformed messages on md-live', () => {
  const stops = [];
  after(async () => { for (const s of stops.reverse()) await s(); });

  test('are counted, switch nothing and deliver nothing; a valid batch does, within --max-topics', { timeout: 60000 }, async () => {
    const nats = await startNats();
    stops.push(() => nats.stop());
    const gw = await connectedGateway(nats, stops, ['--max-topics', '3']);
    const c = await subscribedClient(gw, 'foreign-live', stops);
    const bad = [
      '{"bid":"1.00"}',                                                          // JSON
      '',                                                                        // empty
      busRecord(1),                                                              // v1: no topic in md-live
      busMessageV2([v2Ticker(1)]),                                               // ungrouped: no topic either
      busMessageV2([v2Group('md.ticker.btc-usd', [v2Ticker(1)])]),               // not a topic
      busMessageV2([v2Group('md.ticker.BTC-USD', [v2Ticker(1)])]).subarray(0, 40), // cut short
      busMessageV2([v2Group('md.ticker.BTC-USD', [v2Group('md.ticker.ETH-USD', [v2Ticker(1)])])]), // nested
    ];
    await rawPublish(nats.port, bad.map((data) => ({ subject: 'md-live', data })));
    await waitFor(async () => await metric(gw, nats, 'tickgate_upstream_decode_errors_total') === bad.length,
      { timeoutMs: 5000, what: 'every bad message counted' });
    assert.equal(await metric(gw, nats, 'tickgate_upstream_batched'), 0, 'still on the per-topic subjects');
    assert.equal(c.updates().length, 0);

    // A valid batch from a stray publisher: 2 topics, then 5 more than --max-topics allows.
    const groups = [v2Group('md.ticker.BTC-USD', [v2Ticker(7), v2Ticker(8)]), v2Group('md.ticker.ETH-USD', [v2Ticker(3)])];
    for (let i = 0; i < 5; ++i) groups.push(v2Group(`md.ticker.S${i}-USD`, [v2Ticker(1)]));
    await rawPublish(nats.port, [{ subject: 'md-live', data: busMessageV2(groups) }]);
    await waitFor(async () => await metric(gw, nats, 'tickgate_upstream_batched') === 1,
      { timeoutMs: 5000, what: 'the valid batch to switch the gateway' });
    const got = [];
    for (let i = 0; i < 4; ++i) got.push(await c.next((m) => typeof m.seq === 'number', 3000));
    assert.deepEqual(got.map((u) => `${u.topic}:${u.seq}`),
      ['ticker.BTC-USD:7', 'ticker.BTC-USD:8', 'ticker.ETH-USD:3', 'ticker.S0-USD:1']);
    assert.equal(await metric(gw, nats, 'tickgate_upstream_topic_limit_drops_total'), 4);
    // And per-topic messages no longer count: the subscription is gone.
    await rawPublish(nats.port, [{ subject: 'md.ticker.BTC-USD', data: busRecord(9) }]);
    await delay(300);
    assert.ok(!c.messages.some((m) => m.seq === 9), 'md.ticker.BTC-USD not read while on the batches');
  });
});

describe('nats-server restarted under a batching publisher', () => {
  const stops = [];
  after(async () => { for (const s of stops.reverse()) await s(); });

  test('the gateway comes back on the batches, seqs show gaps but never repeat', { timeout: 90000 }, async () => {
    let nats = await startNats();
    const { port, storeDir } = nats;
    stops.push(() => nats.stop());
    const pub = await startPublisher(nats.url, ['--symbols', '5', '--rate', '1000', '--flush-window-us', '1000',
      ...BATCHING]);
    stops.push(() => pub.stop());
    const gw = await connectedGateway(nats, stops);
    const c = await subscribedClient(gw, 'restart-batches', stops);
    await waitFor(() => c.updates().length >= 300, { timeoutMs: 10000, what: '300 updates before the restart' });
    await nats.stop({ signal: 'SIGKILL', cleanup: false });
    await c.next((m) => m.type === 'status' && m.state === 'stale', 5000);
    nats = await startNats({ port, storeDir, ownStore: true });
    await c.next((m) => m.type === 'status' && m.state === 'ok', 15000);
    const before = c.updates().length;
    await waitFor(() => c.updates().length >= before + 300, { timeoutMs: 15000, what: '300 updates after' });
    await waitFor(async () => await metric(gw, nats, 'tickgate_upstream_batched') === 1,
      { timeoutMs: 5000, what: 'the gateway on the batches again' });
    for (const [topic, entries] of liveByTopic(c))
      assert.deepEqual(orderProblems(entries), [], `${topic}: no duplicate or backwards seq`);
    assert.equal(await metric(gw, nats, 'tickgate_upstream_decode_errors_total'), 0);
  });
});

describe('--flush-window-us', () => {
  const stops = [];
  after(async () => { for (const s of stops.reverse()) await s(); });

  test('an update after a quiet spell goes at once; a burst waits at most the window', { timeout: 60000 }, async () => {
    const nats = await startNats();
    stops.push(() => nats.stop());
    // A 50 ms window, so a wait would show. Slow first: 4 updates a second, each alone.
    const slow = await startPublisher(nats.url, ['--symbols', '1', '--rate', '4', '--flush-window-us', '50000',
      ...BATCHING]);
    stops.push(() => slow.stop());
    const gw = await connectedGateway(nats, stops);
    const c = await subscribedClient(gw, 'window', stops);
    const live = () => c.updates().filter((m) => !m.snapshot);
    await waitFor(() => live().length >= 7, { timeoutMs: 10000, what: '7 slow updates' });
    const lagMs = (m) => m.__at - Number(BigInt(m.ts) / 1_000_000n);
    // The first may meet the gateway's start-up (its JetStream read); the others are steady state.
    const slowLags = live().slice(1).map(lagMs);
    // Held for its window, each would take ~50 ms; a busy machine may delay one or two anyway.
    const sortedSlow = [...slowLags].sort((x, y) => x - y);
    assert.ok(sortedSlow[Math.floor(sortedSlow.length / 2)] < 20, `alone, each went out at once: ${slowLags.join(', ')} ms`);
    await slow.stop();

    const fast = await startPublisher(nats.url, ['--symbols', '5', '--rate', '2000', '--flush-window-us', '50000',
      ...BATCHING]);
    stops.push(() => fast.stop());
    const seen = c.messages.length;
    await waitFor(() => c.messages.slice(seen).filter((m) => typeof m.seq === 'number').length >= 2000,
      { timeoutMs: 15000, what: '2,000 fast updates' });
    const p = await scrapeUrl(fast.metricsUrl);
    // About 20 writes a second (one per window), and no update held much past its window.
    assert.ok(p.tickgate_feed_flushes_total * 20 < p.tickgate_feed_published_total,
      `${p.tickgate_feed_published_total} updates in ${p.tickgate_feed_flushes_total} writes`);
    const lags = c.messages.slice(seen).filter((m) => typeof m.seq === 'number' && !m.snapshot).map(lagMs);
    lags.sort((x, y) => x - y);
    assert.ok(lags[Math.floor(lags.length * 0.5)] > 5, `a burst waits for its window (median ${lags[Math.floor(lags.length * 0.5)]} ms)`);
    assert.ok(lags[Math.floor(lags.length * 0.9)] < 150, `but not much longer (p90 ${lags[Math.floor(lags.length * 0.9)]} ms)`);
  });
});
