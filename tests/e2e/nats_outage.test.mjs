// The gateway's NATS feed under trouble: nats-server killed and restarted mid-stream, foreign and
// malformed messages on md.>, a stray publisher inventing topics past --max-topics.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connectReady, delay, httpGet, scrape, startGateway, waitFor } from './support/gateway.mjs';
import {
  busRecord, liveByTopic, orderProblems, rawPublish, scrapeUrl, startNats, startPublisher,
} from './support/nats.mjs';

describe('nats-server killed and restarted mid-stream', () => {
  const stops = [];
  after(async () => { for (const s of stops.reverse()) await s(); });

  test('clients stay, the feed goes stale and recovers, seqs show gaps but never repeat', { timeout: 90000 }, async () => {
    let nats = await startNats();
    const { port, storeDir } = nats;
    stops.push(() => nats.stop());
    const pub = await startPublisher(nats.url, ['--symbols', '5', '--rate', '200']);
    stops.push(() => pub.stop());
    const gw = await startGateway(['--feed', nats.url, '--stale-ms', '500']);
    stops.push(() => gw.stop());
    const feed = `{feed="${nats.url}"}`;
    const c = await connectReady(gw.wsUrl, { label: 'outage' });
    stops.push(() => c.close());
    c.send({ op: 'subscribe', id: 1, topics: ['ticker.*'] });
    await c.next('subscribed');
    await waitFor(() => c.updates().length >= 100, { timeoutMs: 10000, what: '100 updates before the outage' });
    const beforeOutage = c.updates().length;

    await nats.stop({ signal: 'SIGKILL', cleanup: false });
    const stale = await c.next((m) => m.type === 'status' && m.state === 'stale', 5000);
    assert.equal(stale.feed, nats.url);
    const h = await httpGet(`${gw.httpsUrl}/healthz`);
    assert.equal(h.status, 503, h.body);
    assert.equal((await httpGet(`${gw.httpsUrl}/readyz`)).status, 200);
    const down1 = await scrape(gw);
    assert.equal(down1[`tickgate_upstream_connected${feed}`], 0);
    await delay(600);
    const down2 = await scrape(gw);
    assert.ok(down2[`tickgate_feed_age_seconds${feed}`] > down1[`tickgate_feed_age_seconds${feed}`],
      'feed age rising while NATS is down');
    assert.ok(c.isOpen, 'the client kept its connection');
    const pubDown = await scrapeUrl(pub.metricsUrl);
    assert.equal(pubDown.tickgate_feed_nats_connected, 0);

    // Same port, same store: the stream and its latest values survive the restart.
    nats = await startNats({ port, storeDir, ownStore: true });
    await c.next((m) => m.type === 'status' && m.state === 'ok', 15000);
    const up = await waitFor(async () => {
      const s = await scrape(gw);
      return s[`tickgate_upstream_connected${feed}`] === 1 && s[`tickgate_upstream_reconnects_total${feed}`] >= 1 ? s : null;
    }, { timeoutMs: 10000, what: 'the gateway to count a reconnect' });
    assert.ok(up);
    assert.equal((await httpGet(`${gw.httpsUrl}/healthz`)).status, 200);
    await waitFor(() => c.updates().length >= beforeOutage + 100, { timeoutMs: 15000, what: '100 updates after' });
    const pubUp = await waitFor(async () => {
      const s = await scrapeUrl(pub.metricsUrl);
      return s.tickgate_feed_reconnects_total >= 1 ? s : null;
    }, { timeoutMs: 10000, what: 'the publisher to count a reconnect' });
    assert.equal(pubUp.tickgate_feed_nats_connected, 1);

    assert.ok(c.isOpen, 'the same client connection throughout');
    for (const [topic, entries] of liveByTopic(c))
      assert.deepEqual(orderProblems(entries), [], `${topic}: no duplicate or backwards seq`);
    const m = await scrape(gw);
    assert.equal(m[`tickgate_upstream_decode_errors_total${feed}`], 0);
    // Latest values were read again after the reconnect (what filled the outage's gaps), and
    // whatever that read repeated was skipped rather than sent twice (the order check above).
    assert.equal(gw.stderr.match(/latest values from JetStream/g)?.length, 2, gw.stderr);
  });
});

describe('stale at once: a NATS drop, not a silence, makes the feed stale', () => {
  const stops = [];
  after(async () => { for (const s of stops.reverse()) await s(); });

  test('status stale "upstream disconnected" at the drop; ok only once updates flow again', { timeout: 90000 }, async () => {
    let nats = await startNats();
    const { port, storeDir } = nats;
    stops.push(() => nats.stop());
    let pub = await startPublisher(nats.url, ['--symbols', '3', '--rate', '100']);
    stops.push(() => pub.stop());
    // A minute of silence would be needed for the age rule: whatever fires below is the drop.
    const gw = await startGateway(['--feed', nats.url, '--stale-ms', '60000']);
    stops.push(() => gw.stop());
    const feed = `{feed="${nats.url}"}`;
    const c = await connectReady(gw.wsUrl, { label: 'stale-at-once' });
    stops.push(() => c.close());
    c.send({ op: 'subscribe', id: 1, topics: ['ticker.*'] });
    await c.next('subscribed');
    await waitFor(() => c.updates().length >= 20, { timeoutMs: 10000, what: '20 updates before the drop' });
    assert.equal((await httpGet(`${gw.httpsUrl}/healthz`)).status, 200);

    // The publisher goes first, so nothing reaches the stream while NATS is down or after.
    await pub.stop();
    const t0 = Date.now();
    await nats.stop({ signal: 'SIGKILL', cleanup: false });
    const stale = await c.next((m) => m.type === 'status' && m.state === 'stale', 5000);
    const tookMs = Date.now() - t0;
    assert.equal(stale.feed, nats.url);
    assert.equal(stale.message, 'upstream disconnected');
    assert.ok(tookMs < 2000, `stale ${tookMs} ms after the drop`);
    const h = await httpGet(`${gw.httpsUrl}/healthz`);
    assert.equal(h.status, 503, h.body);
    assert.equal((await scrape(gw))[`tickgate_feed_fresh${feed}`], 0);

    // NATS back, the gateway reconnected, but no update: still stale, and no "ok" sent.
    nats = await startNats({ port, storeDir, ownStore: true });
    await waitFor(async () => (await scrape(gw))[`tickgate_upstream_reconnects_total${feed}`] >= 1,
      { timeoutMs: 15000, what: 'the gateway to reconnect' });
    await waitFor(() => /latest values from JetStream/g.test(gw.stderr.split('NATS reconnected').at(-1)),
      { timeoutMs: 10000, what: 'the reload after the reconnect' });
    assert.equal((await httpGet(`${gw.httpsUrl}/healthz`)).status, 503, 'fresh without an update');
    assert.equal(c.messages.filter((m) => m.type === 'status' && m.state === 'ok').length, 0);

    pub = await startPublisher(nats.url, ['--symbols', '3', '--rate', '100']);
    stops.push(() => pub.stop());
    const ok = await c.next((m) => m.type === 'status' && m.state === 'ok', 15000);
    assert.equal(ok.message, 'updates flowing again');
    assert.equal((await httpGet(`${gw.httpsUrl}/healthz`)).status, 200);
    assert.ok(c.isOpen, 'the same client connection throughout');
  });
});

describe('foreign and malformed messages on md.>', () => {
  const stops = [];
  after(async () => { for (const s of stops.reverse()) await s(); });

  test('are counted and skipped; the gateway keeps serving', { timeout: 60000 }, async () => {
    const nats = await startNats();
    stops.push(() => nats.stop());
    const gw = await startGateway(['--feed', nats.url]);
    stops.push(() => gw.stop());
    const feed = `{feed="${nats.url}"}`;
    await waitFor(async () => (await scrape(gw))[`tickgate_upstream_connected${feed}`] === 1,
      { timeoutMs: 10000, what: 'the gateway to connect' });
    const c = await connectReady(gw.wsUrl, { label: 'foreign' });
    stops.push(() => c.close());
    c.send({ op: 'subscribe', id: 1, topics: ['ticker.*'] });
    await c.next('subscribed');

    const good = busRecord(1);
    const bad = [
      { subject: 'md.ticker.BTC-USD', data: '{"bid":"1.00"}' },             // JSON, not a bus record
      { subject: 'md.ticker.BTC-USD', data: '' },                           // empty
      { subject: 'md.ticker.BTC-USD', data: good.subarray(0, 99) },         // truncated
      { subject: 'md.ticker.BTC-USD', data: Buffer.concat([good, Buffer.from('x')]) },
      { subject: 'md.ticker.BTC-USD', data: busRecord(1, undefined, { version: 9 }) },
      { subject: 'md.ticker.BTC-USD', data: busRecord(0) },                 // seq 0
      { subject: 'md.ticker.BTC-USD', data: busRecord(1, undefined, { priceDecimals: 200 }) },
      { subject: 'md.nonsense', data: good },                               // no topic in the subject
      { subject: 'md.ticker.btc-usd', data: good },                         // not the topic grammar
      { subject: 'md.welcome.BTC-USD', data: good },                        // reserved channel
      { subject: 'md.ticker.AAAAAAAAAAAAAAAAAAAAAAA-USD', data: good },     // topic too long
    ];
    await rawPublish(nats.port, bad);
    // Then a good one, which must come through: the feed survived and kept its place.
    await rawPublish(nats.port, [{ subject: 'md.ticker.BTC-USD', data: busRecord(7) }]);
    const u = await c.next((m) => m.topic === 'ticker.BTC-USD', 5000);
    assert.equal(u.seq, 7);
    assert.equal(u.bid, '10.00');  // mantissa 1000 at 2 decimals
    // A replay of an older seq is a duplicate: skipped, not delivered.
    await rawPublish(nats.port, [{ subject: 'md.ticker.BTC-USD', data: busRecord(5) },
      { subject: 'md.ticker.BTC-USD', data: busRecord(8) }]);
    const v = await c.next((m) => m.topic === 'ticker.BTC-USD', 5000);
    assert.equal(v.seq, 8);

    const m = await scrape(gw);
    assert.equal(m[`tickgate_upstream_decode_errors_total${feed}`], bad.length);
    assert.equal(m[`tickgate_upstream_duplicates_total${feed}`], 1);
    assert.equal(m[`tickgate_upstream_messages_total${feed}`], bad.length + 3);
    assert.equal(gw.proc.exitCode, null, 'still running');
  });

  test('a stray publisher cannot make the gateway hold more than --max-topics topics', { timeout: 60000 }, async () => {
    const nats = await startNats();
    stops.push(() => nats.stop());
    const gw = await startGateway(['--feed', nats.url, '--max-topics', '10']);
    stops.push(() => gw.stop());
    const feed = `{feed="${nats.url}"}`;
    await waitFor(async () => (await scrape(gw))[`tickgate_upstream_connected${feed}`] === 1,
      { timeoutMs: 10000, what: 'the gateway to connect' });
    const messages = [];
    for (let i = 0; i < 500; ++i) messages.push({ subject: `md.ticker.S${i}-USD`, data: busRecord(1) });
    await rawPublish(nats.port, messages);
    const m = await waitFor(async () => {
      const s = await scrape(gw);
      // The feed counts a message as it takes it; the topic count moves once the broadcast engine
      // has drained the ring, a moment later.
      return s[`tickgate_upstream_messages_total${feed}`] === 500 && s.tickgate_topics >= 10 ? s : null;
    }, { timeoutMs: 10000, what: 'all 500 messages received and 10 topics created' });
    assert.equal(m.tickgate_topics, 10);
    assert.equal(m[`tickgate_upstream_topic_limit_drops_total${feed}`], 490);
  });
});
