// The gateway's NATS reader under bursts: it switches to one read per window while messages keep
// coming, and back to reading at once when they stop. Nothing may be lost or reordered on the way,
// a message after the burst must not wait for a later one, and a reconnect in the middle of a
// burst must not leave the reader stuck. Both readers: on worker 0's loop (--nats-reader worker,
// the default) and on a thread of the feed's own.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { BIN, connectReady, scrape, startGateway, waitFor } from './support/gateway.mjs';
import { busRecord, liveByTopic, orderProblems, rawPublish, startNats, startPublisher } from './support/nats.mjs';

describe('the NATS reader in a burst and after it', () => {
  const stops = [];
  after(async () => { for (const s of stops.reverse()) await s(); });

  for (const reader of ['worker', 'thread'])
  test(`${reader} reader: 5,000 messages at once all arrive in order; the next one, alone, arrives at once`, { timeout: 60000 }, async () => {
    const nats = await startNats();
    stops.push(() => nats.stop());
    const gw = await startGateway(['--feed', nats.url, '--nats-reader', reader]);
    stops.push(() => gw.stop());
    const feed = `{feed="${nats.url}"}`;
    await waitFor(async () => (await scrape(gw))[`tickgate_upstream_connected${feed}`] === 1,
      { timeoutMs: 10000, what: 'the gateway to connect' });
    const c = await connectReady(gw.wsUrl, { label: 'burst' });
    stops.push(() => c.close());
    c.send({ op: 'subscribe', id: 1, topics: ['ticker.*'] });  // a pattern: no topic exists yet
    await c.next('subscribed');

    const burst = [];
    for (let seq = 1; seq <= 5000; ++seq) burst.push({ subject: 'md.ticker.BTC-USD', data: busRecord(seq) });
    await rawPublish(nats.port, burst, 15000);
    await c.next((m) => m.topic === 'ticker.BTC-USD' && m.seq === 5000, 10000);
    const m = await scrape(gw);
    assert.equal(m[`tickgate_upstream_messages_total${feed}`], 5000);
    assert.equal(m[`tickgate_upstream_duplicates_total${feed}`], 0);
    assert.deepEqual(orderProblems(liveByTopic(c).get('ticker.BTC-USD')), []);

    // Quiet since (the scrape alone is longer than a window), then one message: read when it
    // comes, not with the next ping (the connection pings every second, which would also wake a
    // reader left waiting).
    const t0 = Date.now();
    await rawPublish(nats.port, [{ subject: 'md.ticker.BTC-USD', data: busRecord(5001) }]);
    await c.next((msg) => msg.topic === 'ticker.BTC-USD' && msg.seq === 5001, 500);
    assert.ok(Date.now() - t0 < 500, `after the burst, one message took ${Date.now() - t0} ms`);
  });

  test('a NATS restart during a steady 4,000/s leaves the reader reading', { timeout: 90000 }, async () => {
    let nats = await startNats();
    const { port, storeDir } = nats;
    stops.push(() => nats.stop());
    const pub = await startPublisher(nats.url, ['--symbols', '20', '--rate', '4000']);
    stops.push(() => pub.stop());
    const gw = await startGateway(['--feed', nats.url]);
    stops.push(() => gw.stop());
    const feed = `{feed="${nats.url}"}`;
    const c = await connectReady(gw.wsUrl, { label: 'burst-restart' });
    stops.push(() => c.close());
    c.send({ op: 'subscribe', id: 1, topics: ['ticker.*'] });
    await c.next('subscribed');
    await waitFor(() => c.updates().length >= 500, { timeoutMs: 10000, what: '500 updates before the restart' });

    await nats.stop({ signal: 'SIGKILL', cleanup: false });
    await c.next((msg) => msg.type === 'status' && msg.state === 'stale', 5000);
    nats = await startNats({ port, storeDir, ownStore: true });
    await c.next((msg) => msg.type === 'status' && msg.state === 'ok', 15000);
    const before = c.updates().length;
    await waitFor(() => c.updates().length >= before + 500, { timeoutMs: 10000, what: '500 updates after' });
    for (const [topic, entries] of liveByTopic(c))
      assert.deepEqual(orderProblems(entries), [], `${topic}: no duplicate or backwards seq`);
    assert.equal((await scrape(gw))[`tickgate_upstream_decode_errors_total${feed}`], 0);
  });
});

describe('--nats-read-coalesce-us', () => {
  const stops = [];
  after(async () => { for (const s of stops.reverse()) await s(); });

  // Of the updates the gateway took from NATS while a publisher sends a steady 1,000/s (always a
  // burst to the reader): the share taken within 10 ms of the publisher's ts.
  async function shareWithin10ms(coalesceUs) {
    const nats = await startNats();
    stops.push(() => nats.stop());
    const pub = await startPublisher(nats.url, ['--symbols', '3', '--rate', '1000']);
    stops.push(() => pub.stop());
    const gw = await startGateway(['--feed', nats.url, '--nats-read-coalesce-us', coalesceUs]);
    stops.push(() => gw.stop());
    const feed = `{feed="${nats.url}"}`;
    const bucket = (m, le) => m[`tickgate_upstream_latency_seconds_bucket{feed="${nats.url}",le="${le}"}`];
    await waitFor(async () => (await scrape(gw))[`tickgate_upstream_latency_seconds_count${feed}`] >= 500,
      { timeoutMs: 15000, what: '500 updates through the reader' });
    const before = await scrape(gw);
    await waitFor(async () => (await scrape(gw))[`tickgate_upstream_latency_seconds_count${feed}`] >=
      before[`tickgate_upstream_latency_seconds_count${feed}`] + 1500, { timeoutMs: 15000, what: '1,500 more' });
    const m = await scrape(gw);
    const n = bucket(m, '+Inf') - bucket(before, '+Inf');
    const stopped = await gw.stop();
    assert.equal(stopped.code, 0);
    return (bucket(m, '0.01') - bucket(before, '0.01')) / n;
  }

  test('0 reads each message when it comes; 50,000 holds a steady stream for up to 50 ms', { timeout: 90000 }, async () => {
    const atOnce = await shareWithin10ms(0);
    assert.ok(atOnce >= 0.8, `read at once: ${(atOnce * 100).toFixed(1)} % within 10 ms`);
    const held = await shareWithin10ms(50000);
    // Read once per 50 ms, a message waits 25 ms on average: about a fifth within 10 ms.
    assert.ok(held <= 0.5, `read once per 50 ms: ${(held * 100).toFixed(1)} % within 10 ms`);
  });

  test('out of range: exit 2 with one line', () => {
    const r = spawnSync(BIN, ['--nats-read-coalesce-us', '200000'], { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^tickgate: --nats-read-coalesce-us must be at most 100000 \(0\.1 s\)\n$/);
  });
});
