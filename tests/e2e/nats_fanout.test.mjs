// One tickgate-feed publisher, NATS with JetStream, several gateways (--feed nats://...): the same
// updates with the same seqs everywhere, snapshots from JetStream, seq continuing across a
// publisher restart. Each test has its own nats-server on a free loopback port and its own store.
import { after, describe, test } from 'node:test';
import { readdirSync, readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { connectReady, startGateway, waitFor } from './support/gateway.mjs';
import {
  connectedGateway, liveByTopic, orderProblems, scrapeUrl, startNats, startPublisher, subscribedClient,
} from './support/nats.mjs';

const TOPICS = ['ticker.BTC-USD', 'ticker.ETH-USD', 'ticker.SOL-USD', 'ticker.XRP-USD', 'ticker.ADA-USD'];

describe('one publisher, two gateways', () => {
  const stops = [];
  after(async () => { for (const s of stops.reverse()) await s(); });

  test('both gateways deliver identical (topic, seq, payload) sequences', { timeout: 60000 }, async () => {
    const nats = await startNats();
    stops.push(() => nats.stop());
    const pub = await startPublisher(nats.url, ['--symbols', '5', '--rate', '200']);
    stops.push(() => pub.stop());
    const gws = [];
    for (let i = 0; i < 2; ++i) {
      const gw = await startGateway(['--feed', nats.url]);
      stops.push(() => gw.stop());
      gws.push(gw);
    }
    const clients = [];
    for (const [i, gw] of gws.entries()) {
      const c = await connectReady(gw.wsUrl, { label: `gw${i}` });
      stops.push(() => c.close());
      c.send({ op: 'subscribe', id: 1, topics: ['ticker.*'] });
      await c.next('subscribed');
      clients.push(c);
    }
    await waitFor(() => clients.every((c) => TOPICS.every((t) => (liveByTopic(c).get(t) ?? []).length >= 40)),
      { timeoutMs: 20000, what: '40 live updates per topic on both gateways' });

    const [a, b] = clients.map(liveByTopic);
    for (const topic of TOPICS) {
      const ea = a.get(topic);
      const eb = b.get(topic);
      assert.deepEqual(orderProblems(ea), [], `gw0 ${topic} in order`);
      assert.deepEqual(orderProblems(eb), [], `gw1 ${topic} in order`);
      // The window both clients saw: the same seqs, each with the same bytes.
      const lo = Math.max(ea[0].seq, eb[0].seq);
      const hi = Math.min(ea.at(-1).seq, eb.at(-1).seq);
      assert.ok(hi - lo >= 30, `${topic}: overlap ${lo}..${hi}`);
      const wa = ea.filter((e) => e.seq >= lo && e.seq <= hi);
      const wb = eb.filter((e) => e.seq >= lo && e.seq <= hi);
      assert.equal(wa.length, hi - lo + 1, `${topic}: gw0 has no gap in ${lo}..${hi}`);
      assert.deepEqual(wa, wb, `${topic}: identical sequences on both gateways`);
    }
    for (const gw of gws) {
      const g = await scrapeUrl(gw.metricsUrl);
      const feed = `{feed="${nats.url}"}`;
      const live = g[`tickgate_upstream_latency_seconds_count${feed}`];
      assert.ok(live >= 200, `publisher ts to ring insert observed for live updates (${live})`);
      assert.ok(g[`tickgate_upstream_latency_seconds_sum${feed}`] > 0);
      assert.ok(g[`tickgate_upstream_messages_total${feed}`] >= live);
      assert.equal(g[`tickgate_upstream_connected${feed}`], 1);
      assert.equal(g[`tickgate_upstream_reconnects_total${feed}`], 0);
      assert.equal(g[`tickgate_upstream_decode_errors_total${feed}`], 0);
    }
    const m = await scrapeUrl(pub.metricsUrl);
    assert.ok(m.tickgate_feed_published_total > 200, `published ${m.tickgate_feed_published_total}`);
    assert.equal(m.tickgate_feed_nats_errors_total, 0);
    assert.equal(m.tickgate_feed_nats_connected, 1);
    assert.equal(m.tickgate_feed_reconnects_total, 0);
  });
});

describe('a gateway started after the publisher', () => {
  const stops = [];
  after(async () => { for (const s of stops.reverse()) await s(); });

  test('serves snapshots of every topic at once, from JetStream, with no tick flowing', { timeout: 60000 }, async () => {
    const nats = await startNats();
    stops.push(() => nats.stop());
    const pub = await startPublisher(nats.url, ['--symbols', '5', '--rate', '100']);
    stops.push(() => pub.stop());  // stopped below; this only matters when an assertion fails first
    await waitFor(async () => (await scrapeUrl(pub.metricsUrl)).tickgate_feed_published_total >= 50,
      { timeoutMs: 10000, what: 'the publisher to publish 50 updates' });
    // The publisher stops: from now on the only source of a value is the stream.
    assert.equal((await pub.stop()).code, 0);

    const gw = await startGateway(['--feed', nats.url]);
    stops.push(() => gw.stop());
    await waitFor(() => /latest values from JetStream/.test(gw.stderr), { timeoutMs: 10000, what: 'the JetStream load' });
    const c = await connectReady(gw.wsUrl, { label: 'late' });
    stops.push(() => c.close());
    const t0 = Date.now();
    c.send({ op: 'subscribe', id: 1, topics: TOPICS });
    await c.next('subscribed');
    const snaps = [];
    for (let i = 0; i < TOPICS.length; ++i) snaps.push(await c.next((m) => m.snapshot === true, 2000));
    assert.ok(Date.now() - t0 < 2000, `snapshots within ${Date.now() - t0} ms`);
    assert.deepEqual(snaps.map((s) => s.topic).sort(), [...TOPICS].sort());
    for (const s of snaps) {
      assert.ok(s.seq >= 10, `${s.topic}: seq ${s.seq} is the publisher's (~10 per topic)`);
      assert.match(s.bid, /^\d+\.\d+$/);
    }
    const m = await scrapeUrl(gw.metricsUrl);
    const feed = `{feed="${nats.url}"}`;
    assert.equal(m[`tickgate_upstream_connected${feed}`], 1);
    assert.ok(m[`tickgate_upstream_messages_total${feed}`] >= 5);
    assert.equal(m[`tickgate_upstream_decode_errors_total${feed}`], 0);
  });
});

describe('a publisher keeping the stream in memory (--stream-storage memory)', () => {
  const stops = [];
  after(async () => { for (const s of stops.reverse()) await s(); });

  test('after a nats-server restart a new gateway still serves every topic from the stream', { timeout: 60000 }, async () => {
    let nats = await startNats();
    const { port, storeDir } = nats;
    stops.push(() => nats.stop());
    const pub = await startPublisher(nats.url, ['--symbols', '5', '--rate', '100', '--stream-storage', 'memory']);
    stops.push(() => pub.stop());
    assert.match(pub.stderr, /memory storage/);
    const first = await connectedGateway(nats, stops);
    // A pattern (the default): the topics the gateway has not heard of yet come as they appear.
    const c = await subscribedClient(first, 'through-restart', stops);
    await waitFor(() => c.updates().length >= 50, { timeoutMs: 10000, what: '50 updates before the restart' });

    // Same port and store: a memory stream is gone with the server all the same.
    await nats.stop({ cleanup: false });
    nats = await startNats({ port, storeDir, ownStore: true });
    await waitFor(() => /was missing after reconnecting; created it again/.test(pub.stderr),
      { timeoutMs: 15000, what: 'the publisher to make the stream again' });
    const afterRestart = c.updates().length;
    // Two: the first may have been on its way before the stream was made again.
    await waitFor(() => TOPICS.every((t) => c.updates().slice(afterRestart).filter((u) => u.topic === t).length >= 2),
      { timeoutMs: 15000, what: 'two updates of every topic after the restart' });
    const lastSeen = new Map();
    for (const u of c.updates()) lastSeen.set(u.topic, u.seq);
    // The publisher stops: what a new gateway serves now can only come from the stream.
    assert.equal((await pub.stop()).code, 0);

    const late = await startGateway(['--feed', nats.url]);
    stops.push(() => late.stop());
    await waitFor(() => /latest values from JetStream/.test(late.stderr), { timeoutMs: 10000, what: 'the JetStream load' });
    const d = await subscribedClient(late, 'late', stops, TOPICS);
    const snaps = [];
    for (let i = 0; i < TOPICS.length; ++i) snaps.push(await d.next((m) => m.snapshot === true, 2000));
    assert.deepEqual(snaps.map((s) => s.topic).sort(), [...TOPICS].sort());
    for (const s of snaps)
      assert.ok(s.seq >= lastSeen.get(s.topic), `${s.topic}: seq ${s.seq}, the first gateway saw ${lastSeen.get(s.topic)}`);
    for (const [topic, entries] of liveByTopic(c))
      assert.deepEqual(orderProblems(entries), [], `${topic}: no duplicate or backwards seq across the restart`);
  });
});

describe('a publisher restart', () => {
  const stops = [];
  after(async () => { for (const s of stops.reverse()) await s(); });

  test('continues every topic\'s seq from where it stopped', { timeout: 60000 }, async () => {
    const nats = await startNats();
    stops.push(() => nats.stop());
    const gw = await startGateway(['--feed', nats.url]);
    stops.push(() => gw.stop());
    const c = await connectReady(gw.wsUrl, { label: 'restart' });
    stops.push(() => c.close());
    c.send({ op: 'subscribe', id: 1, topics: ['ticker.*'] });
    await c.next('subscribed');

    const first = await startPublisher(nats.url, ['--symbols', '5', '--rate', '200']);
    stops.push(() => first.stop());
    await waitFor(() => TOPICS.every((t) => (liveByTopic(c).get(t) ?? []).length >= 20),
      { timeoutMs: 15000, what: '20 updates per topic from the first publisher' });
    assert.equal((await first.stop()).code, 0);
    // Everything the first publisher handed to NATS has reached the client (it subscribed before
    // the first update), so the last seqs below are the publisher's last.
    const published = Number(first.stderr.match(/stopped after publishing (\d+) updates/)?.[1]);
    assert.ok(published > 0, first.stderr);
    await waitFor(() => [...liveByTopic(c).values()].reduce((n, e) => n + e.length, 0) >= published,
      { timeoutMs: 10000, what: `all ${published} updates of the first publisher at the client` });
    const before = liveByTopic(c);
    const lastSeq = new Map(TOPICS.map((t) => [t, before.get(t).at(-1).seq]));
    const seen = c.messages.length;

    const second = await startPublisher(nats.url, ['--symbols', '5', '--rate', '200']);
    stops.push(() => second.stop());
    assert.match(second.stderr, /seq continues for 5 topics/);
    await waitFor(() => TOPICS.every((t) => c.messages.slice(seen).some((m) => m.topic === t && !m.snapshot)),
      { timeoutMs: 15000, what: 'an update per topic from the second publisher' });
    for (const t of TOPICS) {
      const next = c.messages.slice(seen).find((m) => m.topic === t && !m.snapshot);
      assert.equal(next.seq, lastSeq.get(t) + 1, `${t}: ${lastSeq.get(t)} then ${next.seq}`);
    }
    for (const [t, entries] of liveByTopic(c)) assert.deepEqual(orderProblems(entries), [], `${t} in order`);
  });
});

describe('where the publisher\'s simulator runs', () => {
  const stops = [];
  after(async () => { for (const s of stops.reverse()) await s(); });

  // Threads of a process by name, from /proc.
  const threadNames = (pid) => readdirSync(`/proc/${pid}/task`)
    .map((tid) => { try { return readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim(); } catch { return ''; } });

  // One publisher (its own nats-server) and one gateway; per seq of ticker.BTC-USD, the update
  // without its ts (the same seed makes the same prices, whenever they are made).
  async function published(flags) {
    const nats = await startNats();
    stops.push(() => nats.stop());
    // The client listens before the publisher starts, so it sees every seq from 1.
    const gw = await startGateway(['--feed', nats.url]);
    stops.push(() => gw.stop());
    await waitFor(async () => (await scrapeUrl(gw.metricsUrl))[`tickgate_upstream_connected{feed="${nats.url}"}`] === 1,
      { timeoutMs: 10000, what: 'the gateway to connect to NATS' });
    const c = await connectReady(gw.wsUrl, { label: flags.join(' ') || 'auto' });
    stops.push(() => c.close());
    // A pattern: no topic exists before the publisher's first update.
    c.send({ op: 'subscribe', id: 1, topics: ['ticker.*'] });
    await c.next('subscribed');
    const pub = await startPublisher(nats.url, ['--symbols', '3', '--rate', '300', '--seed', '7', ...flags]);
    stops.push(() => pub.stop());
    await waitFor(() => (liveByTopic(c).get('ticker.BTC-USD') ?? []).some((e) => e.seq >= 150),
      { timeoutMs: 20000, what: 'ticker.BTC-USD up to seq 150' });
    const threads = threadNames(pub.proc.pid);
    const entries = liveByTopic(c).get('ticker.BTC-USD');
    assert.deepEqual(orderProblems(entries), []);
    const bySeq = new Map(entries.map((e) => {
      const { ts, ...rest } = JSON.parse(e.text);
      assert.ok(ts > 0);
      return [e.seq, JSON.stringify(rest)];
    }));
    const stopped = await pub.stop();
    assert.equal(stopped.code, 0, pub.stderr);
    return { bySeq, threads, stderr: pub.stderr, first: entries[0].seq };
  }

  test('on the publish thread by default, on a thread of its own with --feed-thread own, the same updates either way',
    { timeout: 90000 }, async () => {
      const inline = await published([]);
      assert.match(inline.stderr, /the feed runs on the publish thread/);
      assert.ok(!inline.threads.includes('feed-0'), `no feed thread: ${inline.threads}`);
      const own = await published(['--feed-thread', 'own']);
      assert.doesNotMatch(own.stderr, /the feed runs on the publish thread/);
      assert.ok(own.threads.includes('feed-0'), `a feed thread: ${own.threads}`);
        assert.equal(inline.first, 1);
      assert.equal(own.first, 1);
      for (let seq = 1; seq <= 150; ++seq) {
        assert.ok(inline.bySeq.has(seq) && own.bySeq.has(seq), `seq ${seq} reached both clients`);
        assert.equal(inline.bySeq.get(seq), own.bySeq.get(seq), `seq ${seq}`);
      }
    });

  test('a flush window keeps the ring: the feed makes its updates on time, not at the window\'s end', { timeout: 60000 }, async () => {
    const windowed = await published(['--flush-window-us', '2000']);
    assert.doesNotMatch(windowed.stderr, /the feed runs on the publish thread/);
    assert.ok(windowed.threads.includes('feed-0'), `a feed thread: ${windowed.threads}`);
  });
});
