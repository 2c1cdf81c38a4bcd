// Bus v1 and v2 side by side (protocol/README.md, "Rolling upgrade"): a gateway of this release
// reads both, so gateways are upgraded first and the publisher's --bus-version 2 comes last.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { scrape, waitFor } from './support/gateway.mjs';
import {
  busMessageV2, busRecord, liveByTopic, orderProblems, rawPublish, scrapeUrl, startNats, startPublisher,
  v2Record, v2Ticker,
  assertSameOnBoth as sameOnBoth, connectedGateway, subscribedClient,
} from './support/nats.mjs';

const TOPICS = ['ticker.BTC-USD', 'ticker.ETH-USD', 'ticker.SOL-USD'];
const assertSameOnBoth = (a, b, topics = TOPICS) => sameOnBoth(a, b, topics);

for (const busVersion of [1, 2]) {
  describe(`a v${busVersion} publisher and two gateways of this release`, () => {
    const stops = [];
    after(async () => { for (const s of stops.reverse()) await s(); });

    test('both deliver the same (topic, seq, payload), nothing skipped', { timeout: 60000 }, async () => {
      const nats = await startNats();
      stops.push(() => nats.stop());
      const flags = ['--symbols', '3', '--rate', '150'];
      if (busVersion === 2) flags.push('--bus-version', '2');
      const pub = await startPublisher(nats.url, flags);
      stops.push(() => pub.stop());
      assert.equal((await scrapeUrl(pub.metricsUrl)).tickgate_feed_bus_version, busVersion);
      const gws = [await connectedGateway(nats, stops), await connectedGateway(nats, stops)];
      const clients = [];
      for (const [i, gw] of gws.entries()) clients.push(await subscribedClient(gw, `v${busVersion}-gw${i}`, stops));
      await waitFor(() => clients.every((c) => TOPICS.every((t) => (liveByTopic(c).get(t) ?? []).length >= 20)),
        { timeoutMs: 20000, what: '20 live updates per topic on both gateways' });
      assertSameOnBoth(...clients);
      for (const gw of gws) {
        const m = await scrape(gw);
        const feed = `{feed="${nats.url}"}`;
        assert.equal(m[`tickgate_upstream_decode_errors_total${feed}`], 0);
        assert.equal(m[`tickgate_upstream_unknown_records_total${feed}`], 0);
        if (busVersion === 2) assert.match(gw.stderr, /publisher epoch [0-9a-f]{16}/);
      }
    });
  });
}

describe('a publisher restarted from v1 to v2 (the last step of the upgrade)', () => {
  const stops = [];
  after(async () => { for (const s of stops.reverse()) await s(); });

  test('seq continues from the v1 records in the stream; the client sees no step back', { timeout: 60000 }, async () => {
    const nats = await startNats();
    stops.push(() => nats.stop());
    const flags = ['--symbols', '3', '--rate', '150'];
    const v1 = await startPublisher(nats.url, flags);
    stops.push(() => v1.stop());
    const gw = await connectedGateway(nats, stops);
    const c = await subscribedClient(gw, 'upgrade', stops);
    await waitFor(() => TOPICS.every((t) => (liveByTopic(c).get(t) ?? []).length >= 10),
      { timeoutMs: 20000, what: '10 v1 updates per topic' });
    await v1.stop();
    const dupKey = `tickgate_upstream_duplicates_total{feed="${nats.url}"}`;
    const dupsBefore = (await scrape(gw))[dupKey];
    const before = new Map(TOPICS.map((t) => [t, liveByTopic(c).get(t).at(-1).seq]));
    const v2 = await startPublisher(nats.url, [...flags, '--bus-version', '2']);
    stops.push(() => v2.stop());
    await waitFor(() => /publisher epoch/.test(gw.stderr) &&
      TOPICS.every((t) => liveByTopic(c).get(t).at(-1).seq >= before.get(t) + 10),
    { timeoutMs: 20000, what: '10 v2 updates per topic' });
    for (const topic of TOPICS)
      assert.deepEqual(orderProblems(liveByTopic(c).get(topic)), [], `${topic}: no duplicate or backwards seq`);
    // The gateway skips a seq it has forwarded already; none came: the v2 publisher did not reuse one.
    assert.equal((await scrape(gw))[dupKey], dupsBefore);
  });
});

describe('v2 messages with records of types this gateway does not know', () => {
  const stops = [];
  after(async () => { for (const s of stops.reverse()) await s(); });

  test('the unknown records are skipped and counted, the tickers beside them delivered', { timeout: 60000 }, async () => {
    const nats = await startNats();
    stops.push(() => nats.stop());
    const gw = await connectedGateway(nats, stops);
    const feed = `{feed="${nats.url}"}`;
    const c = await subscribedClient(gw, 'unknown', stops);
    const subject = 'md.ticker.BTC-USD';
    await rawPublish(nats.port, [
      // A type of a later release (6) before a ticker, and a future type 77 after it.
      { subject, data: busMessageV2([v2Record(6, Buffer.from('a later type')), v2Ticker(3), v2Record(77, Buffer.alloc(500))]) },
      // Nothing but an unknown record: no update, no error.
      { subject, data: busMessageV2([v2Record(8, Buffer.from('hello'))]) },
      // Two tickers in one message, then a v1 message: all one topic's seq order.
      { subject, data: busMessageV2([v2Ticker(4), v2Ticker(5, undefined, { priceDecimals: 3 })]) },
      { subject, data: busRecord(6) },
      // Damaged v2 messages: a length past the end, a ticker of the wrong length. Rejected whole.
      { subject, data: busMessageV2([v2Ticker(7)]).subarray(0, 60) },
      { subject, data: busMessageV2([v2Ticker(8), v2Record(1, Buffer.alloc(10, 1))]) },
      { subject, data: busRecord(9) },
    ]);
    const seqs = [];
    for (let i = 0; i < 5; ++i) seqs.push(await c.next((m) => m.topic === 'ticker.BTC-USD', 5000));
    assert.deepEqual(seqs.map((u) => u.seq), [3, 4, 5, 6, 9]);
    assert.equal(seqs[0].bid, '10.00');  // mantissa 1000 at 2 decimals
    assert.equal(seqs[2].bid, '1.000');  // the same mantissa at 3
    const m = await waitFor(async () => {
      const s = await scrape(gw);
      return s[`tickgate_upstream_messages_total${feed}`] === 7 ? s : null;
    }, { timeoutMs: 5000, what: 'all 7 messages counted' });
    assert.equal(m[`tickgate_upstream_unknown_records_total${feed}`], 3);
    assert.equal(m[`tickgate_upstream_decode_errors_total${feed}`], 2);
    assert.equal(m[`tickgate_upstream_duplicates_total${feed}`], 0);
  });
});
