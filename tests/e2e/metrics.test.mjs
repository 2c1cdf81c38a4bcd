// /metrics, /healthz and /readyz against what clients actually saw; a feed going stale.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  connectReady, delay, httpGet, replayLine, scrape, startGateway, tempDir, waitFor, writeReplay,
} from './support/gateway.mjs';

describe('metrics match what the clients saw (sim, --symbols 5)', () => {
  let gw;
  const clients = [];
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await gw?.stop();
  });

  test('connections, subscriptions, errors, topics, messages, feed updates, fan-out latency', { timeout: 20000 }, async () => {
    gw = await startGateway(['--symbols', '5', '--heartbeat-ms', '60000'], { threads: 2 });
    const zero = await scrape(gw);
    assert.equal(zero.tickgate_connections, 0);
    assert.equal(zero.tickgate_messages_sent_total, 0);
    assert.equal(zero['tickgate_client_errors_total{code="bad_request"}'], 0);

    const c1 = await connectReady(gw.wsUrl, { label: 'm1' });
    const c2 = await connectReady(gw.wsUrl, { label: 'm2' });
    clients.push(c1, c2);
    c1.send({ op: 'subscribe', id: 1, topics: ['ticker.BTC-USD', 'ticker.ETH-USD'] });
    c2.send({ op: 'subscribe', id: 1, topics: ['ticker.*'] });
    c2.send({ op: 'subscribe', id: 2, topics: ['ticker.NOPE-USD'] });  // unknown_topic
    // Five bad requests in all: three from c1, two from c2.
    c1.send('{');
    c1.send({ op: 'nope', id: 3 });
    c1.send({ op: 'subscribe', id: 4, topics: 'ticker.BTC-USD' });
    c2.ws.send(Buffer.from('binary'), { binary: true });
    c2.send('[]');
    for (const c of [c1, c2]) {
      c.send({ op: 'ping', id: 'sync' });
      await c.next((m) => m.type === 'pong' && m.id === 'sync');
    }
    const errs = (c) => c.messages.filter((m) => m.type === 'error');
    assert.equal(errs(c1).length, 3);
    assert.equal(errs(c2).length, 3);
    await delay(700);

    const live = await scrape(gw);
    assert.equal(live.tickgate_connections, 2, 'gauge equals the open clients');
    assert.equal(live.tickgate_subscriptions, 3, 'two exact entries + one pattern');
    assert.equal(live['tickgate_client_errors_total{code="bad_request"}'], 5);
    assert.equal(live['tickgate_client_errors_total{code="unknown_topic"}'], 1);
    assert.equal(live['tickgate_client_errors_total{code="rate_limited"}'], 0);
    assert.equal(live['tickgate_client_errors_total{code="too_many_subscriptions"}'], 0);
    assert.equal(live.tickgate_topics, 5, 'tickgate_topics = --symbols');
    assert.ok(live.tickgate_fanout_latency_seconds_count > 0, 'fan-out latency observed');
    assert.ok(live.tickgate_fanout_latency_seconds_sum > 0);
    assert.equal(live['tickgate_connections_total{result="websocket"}'], 2);
    assert.equal(live.tickgate_slow_consumer_disconnects_total, 0);
    assert.equal(live.tickgate_messages_conflated_total, 0, 'fast clients are not conflated');
    const feed0 = live['tickgate_feed_updates_total{feed="sim"}'];
    assert.ok(feed0 > 0);
    assert.equal(live['tickgate_feed_fresh{feed="sim"}'], 1);
    assert.ok('tickgate_feed_updates_dropped_late_total{feed="sim"}' in live, 'the simulator reports what it skipped');
    await delay(500);
    const feed1 = (await scrape(gw))['tickgate_feed_updates_total{feed="sim"}'];
    assert.ok(feed1 - feed0 >= 100, `feed updates rising at ~1000/s: ${feed0} -> ${feed1}`);

    // Stop the flow, then compare what was sent with what arrived.
    c1.send({ op: 'unsubscribe', id: 5, topics: ['ticker.BTC-USD', 'ticker.ETH-USD'] });
    c2.send({ op: 'unsubscribe', id: 5, topics: ['ticker.*'] });
    await c1.next('unsubscribed');
    await c2.next('unsubscribed');
    await delay(500);
    const received = c1.messages.length + c2.messages.length;
    const quiet = await scrape(gw);
    assert.ok(received > 100, `clients received ${received} messages`);
    assert.ok(quiet.tickgate_messages_sent_total >= received,
      `messages_sent_total ${quiet.tickgate_messages_sent_total} >= ${received} received`);
    assert.ok(quiet.tickgate_messages_sent_total <= received + 5,
      `messages_sent_total ${quiet.tickgate_messages_sent_total} not wildly more than ${received} received`);
    assert.equal(quiet.tickgate_subscriptions, 0, 'no entries held after unsubscribing');
    assert.ok(quiet.tickgate_bytes_sent_total >= c1.raw.concat(c2.raw).reduce((n, t) => n + t.length, 0));
    // The fan-out latency's parts, each counted where it happens: every update the engine took
    // from the ring, every batch a worker started, every write (its queueing and its own time).
    const stage = (name, what) => quiet[`tickgate_latency_stage_seconds_${what}{stage="${name}"}`];
    const updates = quiet['tickgate_feed_updates_total{feed="sim"}'];
    assert.ok(Math.abs(stage('ring', 'count') - updates) <= 5, `ring: ${stage('ring', 'count')} samples, ${updates} feed updates`);
    assert.ok(stage('handoff', 'count') >= 2 && stage('handoff', 'count') <= 2 * stage('ring', 'count'),
      `handoff: one per batch and worker (${stage('handoff', 'count')}), at most one per update and worker (${stage('ring', 'count')} updates, 2 workers)`);
    assert.equal(stage('write', 'count'), quiet.tickgate_writes_total, 'write: one sample per write');
    assert.equal(stage('queue', 'count'), quiet.tickgate_writes_total, 'queue: one sample per write');
    for (const name of ['ring', 'handoff', 'queue', 'write']) {
      // A fast client on an idle loopback: no part takes 50 ms on average (the clocks are sane).
      const mean = stage(name, 'sum') / stage(name, 'count');
      assert.ok(mean >= 0 && mean < 0.05, `${name}: mean ${mean} s`);
    }

    await c1.close();
    const one = await waitFor(async () => {
      const s = await scrape(gw);
      return s.tickgate_connections === 1 ? s : null;
    }, { timeoutMs: 4000, what: 'tickgate_connections == 1 after one client closed' });
    assert.equal(one.tickgate_connections, 1);
  });
});

describe('health endpoints of a running gateway (sim, --symbols 5)', () => {
  let gw;
  after(async () => {
    await gw?.stop();
  });

  // Its own gateway: run alone (--test-name-pattern) or after a failed metrics test, it must not
  // depend on a gateway some other test started.
  test('/healthz 200 with the feeds, /readyz 200, unknown path 404', { timeout: 20000 }, async () => {
    gw = await startGateway(['--symbols', '5']);
    const h = await httpGet(`${gw.httpsUrl}/healthz`);
    assert.equal(h.status, 200);
    assert.equal(h.json?.status, 'ok', h.body);
    assert.equal(h.json.feeds.length, 1);
    assert.equal(h.json.feeds[0].name, 'sim');
    assert.equal(h.json.feeds[0].state, 'ok');
    assert.ok(h.json.feeds[0].age_ms >= 0 && h.json.feeds[0].age_ms < 1000, h.body);
    const r = await httpGet(`${gw.httpsUrl}/readyz`);
    assert.equal(r.status, 200);
    assert.equal(r.json?.status, 'ready');
    const nf = await httpGet(`${gw.httpsUrl}/nope`);
    assert.equal(nf.status, 404);
  });
});

describe('a replay feed that ends goes stale (--stale-ms 500)', () => {
  let gw;
  let dir;
  const clients = [];
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await gw?.stop();
    dir?.cleanup();
  });

  test('/healthz turns 503 stale, /readyz stays 200, clients get a status message', { timeout: 20000 }, async () => {
    dir = tempDir();
    const base = 1_700_000_000_000_000_000n;
    const lines = [];
    for (let ms = 0; ms <= 1500; ms += 50) lines.push(replayLine('ticker.AAA-USD', base + BigInt(ms) * 1_000_000n));
    const file = writeReplay(dir.dir, 'short.jsonl', lines);
    const feedName = `replay:${file}`;
    gw = await startGateway(['--feed', feedName, '--stale-ms', '500']);
    const c = await connectReady(gw.wsUrl, { label: 'stale-watch' });
    clients.push(c);
    c.send({ op: 'subscribe', id: 1, topics: ['ticker.*'] });
    await c.next('subscribed');

    const fresh = await httpGet(`${gw.httpsUrl}/healthz`);
    assert.equal(fresh.status, 200, `while the file plays: ${fresh.body}`);
    assert.equal(fresh.json.feeds[0].name, feedName);
    assert.equal(fresh.json.feeds[0].state, 'ok');

    const status = await c.next('status', 6000);
    assert.equal(status.feed, feedName);
    assert.equal(status.state, 'stale');
    const ups = c.updates();
    assert.ok(ups.length >= 10, `the file's updates arrived first (${ups.length})`);
    assert.ok(c.messages.indexOf(status) > c.messages.indexOf(ups[ups.length - 1]), 'status after the last update');

    const h = await httpGet(`${gw.httpsUrl}/healthz`);
    assert.equal(h.status, 503);
    assert.equal(h.json?.status, 'stale', h.body);
    assert.equal(h.json.feeds[0].state, 'stale');
    assert.ok(h.json.feeds[0].age_ms >= 500, h.body);
    const r = await httpGet(`${gw.httpsUrl}/readyz`);
    assert.equal(r.status, 200, 'a stale feed does not make the gateway unready');
    const m = await scrape(gw);
    assert.equal(m[`tickgate_feed_fresh{feed="${feedName}"}`], 0);

    // A client connecting now learns the feed state right after its welcome.
    const late = await connectReady(gw.wsUrl, { label: 'late' });
    clients.push(late);
    const lateStatus = await late.next('status', 2000);
    assert.equal(lateStatus.feed, feedName);
    assert.equal(lateStatus.state, 'stale');
    assert.equal(late.messages.indexOf(lateStatus), 1, 'right after the welcome');
  });
});

describe('a feed that resumes after a gap (--stale-ms 500)', () => {
  let gw;
  let dir;
  const clients = [];
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await gw?.stop();
    dir?.cleanup();
  });

  test('clients get stale then ok; /healthz goes back to 200; seq continues', { timeout: 20000 }, async () => {
    dir = tempDir();
    const base = 1_700_000_000_000_000_000n;
    const lines = [];
    for (const ms of [0, 100, 200, 300, 400, 500, 3500, 3600, 3700, 3800, 3900, 4000, 4100, 4200]) {
      lines.push(replayLine('ticker.GAP-USD', base + BigInt(ms) * 1_000_000n));
    }
    const file = writeReplay(dir.dir, 'gap.jsonl', lines);
    const feedName = `replay:${file}`;
    gw = await startGateway(['--feed', feedName, '--stale-ms', '500']);
    const c = await connectReady(gw.wsUrl, { label: 'gap' });
    clients.push(c);
    c.send({ op: 'subscribe', id: 1, topics: ['*.*'] });
    await c.next('subscribed');
    const stale = await c.next((m) => m.type === 'status', 5000);
    assert.equal(stale.state, 'stale');
    assert.equal((await httpGet(`${gw.httpsUrl}/healthz`)).status, 503);
    const ok = await c.next((m) => m.type === 'status', 6000);
    assert.equal(ok.feed, feedName);
    assert.equal(ok.state, 'ok');
    await delay(300);
    const h = await httpGet(`${gw.httpsUrl}/healthz`);
    assert.equal(h.status, 200, h.body);
    assert.equal(h.json.feeds[0].state, 'ok');
    const ups = c.updates();
    const after = ups.filter((u) => c.messages.indexOf(u) > c.messages.indexOf(stale));
    assert.ok(after.length >= 1, 'updates resumed');
    const live = ups.filter((u) => !u.snapshot);
    for (let i = 1; i < live.length; ++i) assert.equal(live[i].seq, live[i - 1].seq + 1, 'seq continues across the gap');
  });
});
