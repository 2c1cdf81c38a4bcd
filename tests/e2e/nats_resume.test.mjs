// Resume across gateways on NATS (issue 17): two gateways on one publisher with --history; a
// client of gateway A, killed with SIGKILL, resumes on gateway B with `since` and misses nothing.
// And the publisher's epochs: a publisher that starts its seqs over (its stream gone) brings a new
// epoch; a gateway then takes the new seqs (rather than dropping them as duplicates), tells its
// clients with a status message and sends each topic's first value of the new epoch as a snapshot.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connectReady, delay, scrape, startGateway, waitFor } from './support/gateway.mjs';
import { startNats, startPublisher } from './support/nats.mjs';

/** The epoch tickgate-feed logged last ("epoch <16 hex> (...)"), as the wire writes it. */
function publisherEpoch(pub) {
  const all = [...pub.stderr.matchAll(/epoch ([0-9a-f]{16}) \(/g)];
  assert.ok(all.length > 0, pub.stderr);
  return all[all.length - 1][1];
}

/** A client's messages of `topic` that are not snapshots, as seqs. */
function liveSeqs(client, topic, from = 0) {
  return client.messages.slice(from).filter((m) => m.topic === topic && typeof m.seq === 'number' && !m.snapshot)
    .map((m) => m.seq);
}

function consecutive(seqs) {
  const problems = [];
  for (let i = 1; i < seqs.length; ++i) if (seqs[i] !== seqs[i - 1] + 1) problems.push(`${seqs[i - 1]} -> ${seqs[i]}`);
  return problems;
}

describe('two gateways on one publisher with --history: a client resumes on B after A is killed', () => {
  const stops = [];
  after(async () => { for (const s of stops.reverse()) await s(); });

  test('B backfilled from JetStream; since on B recovers every missed seq exactly once, then live', { timeout: 90000 }, async () => {
    const nats = await startNats();
    stops.push(() => nats.stop());
    const pub = await startPublisher(nats.url, ['--bus-version', '2', '--symbols', '2', '--rate', '100',
      '--trade-rate', '60', '--history', '2000']);
    stops.push(() => pub.stop());
    const epoch = publisherEpoch(pub);
    const flags = ['--feed', nats.url, '--history', '2000'];
    const a = await startGateway(flags);
    stops.push(() => a.stop());
    const topics = ['trade.BTC-USD', 'ticker.BTC-USD'];
    const ca = await connectReady(a.wsUrl, { label: 'on A' });
    stops.push(() => ca.close());
    await ca.waitForTopics(topics);
    const ackA = await ca.request({ op: 'subscribe', id: 1, topics }, 'subscribed');
    assert.deepEqual(ackA.topics, topics);
    await waitFor(() => liveSeqs(ca, 'trade.BTC-USD').length >= 20, { timeoutMs: 10000, what: '20 trades on A' });

    // B starts late: what happened before it listened is only in JetStream.
    const b = await startGateway(flags);
    stops.push(() => b.stop());
    await waitFor(() => /stored messages from JetStream/.test(b.stderr), { timeoutMs: 10000, what: "B's backfill" });
    const stored = Number(b.stderr.match(/(\d+) stored messages from JetStream/)[1]);
    assert.ok(stored >= 20, `B read what the stream held: ${stored}`);
    // B's seq space is the publisher's epoch.
    assert.match(b.stderr, new RegExp(`publisher epoch ${epoch}`));
    await delay(500);
    await a.stop({ signal: 'SIGKILL' });
    const last = {};
    for (const topic of topics) {
      const seqs = liveSeqs(ca, topic);
      assert.deepEqual(consecutive(seqs), [], `${topic} on A: no gap before the kill`);
      last[topic] = seqs[seqs.length - 1];
    }
    // Trades and tickers go on while the client is away.
    await delay(1000);
    const m = await scrape(b);
    assert.ok(m.tickgate_history_entries > 0, 'B holds a history');

    const cb = await connectReady(b.wsUrl, { label: 'on B' });
    stops.push(() => cb.close());
    const ackEpoch = ackA.epochs['trade.BTC-USD'];
    const since = Object.fromEntries(topics.map((topic) => [topic, { epoch: ackEpoch, seq: last[topic] }]));
    const ackB = await cb.request({ op: 'subscribe', id: 2, topics, since }, 'subscribed');
    assert.equal(ackA.epochs['trade.BTC-USD'], epoch, "A's epoch is the publisher's");
    for (const topic of topics) {
      assert.equal(ackB.epochs[topic], epoch, `${topic}: the same epoch on B as on A`);
      assert.equal(ackB.recovered[topic], true, `${topic} recovered`);
    }
    await waitFor(() => liveSeqs(cb, 'trade.BTC-USD').length >= 100, { timeoutMs: 15000, what: 'replay and live on B' });
    for (const topic of topics) {
      const seqs = liveSeqs(cb, topic);
      assert.equal(seqs[0], last[topic] + 1, `${topic}: B goes on right after the last seq A sent`);
      assert.deepEqual(consecutive(seqs), [], `${topic}: every missed seq exactly once, then live`);
      assert.equal(cb.messages.filter((x) => x.topic === topic && x.snapshot).length, 0, `${topic}: recovered, no snapshot`);
    }
  });
});

describe('a publisher that starts its seqs over', () => {
  const stops = [];
  after(async () => { for (const s of stops.reverse()) await s(); });

  test('a new epoch: the gateway takes seqs from 1 again, says so, and sends fresh snapshots', { timeout: 90000 }, async () => {
    let nats = await startNats();
    const { port } = nats;
    stops.push(() => nats.stop());
    const flags = ['--bus-version', '2', '--symbols', '1', '--rate', '50', '--trade-rate', '30', '--book-rate', '30'];
    let pub = await startPublisher(nats.url, flags);
    stops.push(() => pub.stop());
    const first = publisherEpoch(pub);
    const gw = await startGateway(['--feed', nats.url, '--history', '100']);
    stops.push(() => gw.stop());
    const c = await connectReady(gw.wsUrl, { label: 'epochs' });
    stops.push(() => c.close());
    const topics = ['ticker.BTC-USD', 'trade.BTC-USD', 'book.BTC-USD'];
    // ticker, trade and the book's two views
    await waitFor(async () => (await scrape(gw)).tickgate_topics >= 4, { timeoutMs: 10000, what: 'every topic known' });
    const ack = await c.request({ op: 'subscribe', id: 1, topics }, 'subscribed');
    assert.deepEqual(ack.topics, topics);
    await waitFor(() => liveSeqs(c, 'trade.BTC-USD').length >= 30 && liveSeqs(c, 'book.BTC-USD').length >= 10,
      { timeoutMs: 10000, what: 'seqs well above 1' });
    const before = {};
    for (const topic of topics) before[topic] = Math.max(...liveSeqs(c, topic));

    // The publisher's stream is lost with its NATS store: the next run has nothing to continue.
    await pub.stop();
    await nats.stop();
    nats = await startNats({ port });
    pub = await startPublisher(nats.url, flags);
    const second = publisherEpoch(pub);
    assert.notEqual(second, first);
    assert.match(pub.stderr, /\(new: no stream to continue from\)/);
    const from = c.messages.length;

    const status = await c.next((m) => m.type === 'status' && /epoch changed/.test(m.message ?? ''), 15000);
    assert.equal(status.feed, nats.url);
    assert.ok(['ok', 'stale'].includes(status.state), JSON.stringify(status));
    const at = c.messages.indexOf(status);
    assert.ok(at >= from);
    await waitFor(() => topics.every((topic) => c.messages.slice(at).some((m) => m.topic === topic && (m.snapshot || topic === 'trade.BTC-USD'))),
      { timeoutMs: 15000, what: "every topic's first value of the new epoch" });
    await delay(1000);
    const after = c.messages.slice(at + 1);
    for (const topic of ['ticker.BTC-USD', 'book.BTC-USD']) {
      const mine = after.filter((m) => m.topic === topic);
      assert.equal(mine[0].snapshot, true, `${topic}: the new epoch begins with a snapshot: ${JSON.stringify(mine[0])}`);
      assert.ok(mine[0].seq < before[topic], `${topic}: its seqs started over (${mine[0].seq} < ${before[topic]})`);
      const live = mine.slice(1).map((m) => m.seq);
      assert.ok(live.length >= 5, `${topic}: live again after the snapshot`);
      assert.ok(live.every((s, i) => s > (i ? live[i - 1] : mine[0].seq)), `${topic}: rising from the snapshot`);
    }
    const book = after.filter((m) => m.topic === 'book.BTC-USD');
    assert.equal(book[1].prev_seq, book[0].seq, 'the next delta chains from the snapshot');
    const trades = after.filter((m) => m.topic === 'trade.BTC-USD').map((m) => m.seq);
    assert.ok(trades.length >= 5 && trades[0] < before['trade.BTC-USD'], `trades flow from the new run's seqs: ${trades.slice(0, 5)}`);
    assert.deepEqual(consecutive(trades), [], 'no trade of the new run dropped as a duplicate');
    assert.match(gw.stderr, new RegExp(`publisher epoch ${second} \\(was ${first}\\): its seqs start over`));
    assert.ok(c.isOpen, 'the same connection throughout');
  });
});
