// Order books and trades end to end, with npm `ws` and socket.io-client against the real gateway fed
// by its simulator: every book message is applied to a client-side reference book (support/book.mjs)
// that checks the prev_seq chain and the checksum, across an exact and a pattern subscription of the
// same book, unsubscribe and resubscribe, a stalled client whose deltas are merged, both protocols,
// and the consistency of ticker, book and trade of one symbol.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { connectReady, delay, scrape, startGateway, waitFor } from './support/gateway.mjs';
import { BookKeeper, compareDecimal } from './support/book.mjs';
import { withoutEpochs } from './support/checks.mjs';

const SANITIZED = process.env.TICKGATE_SANITIZED === '1';
const SYMBOLS = 3;
// Tickers, books (two views each) and trades of every symbol.
const TOPICS = SYMBOLS * 4;
const FLAGS = ['--symbols', String(SYMBOLS), '--rate', '300', '--book-rate', SANITIZED ? '600' : '1500',
  '--trade-rate', '300'];

/** Applies every book message of `messages` in order; returns the keeper (throws on the first bad one). */
function replayBooks(messages) {
  const keeper = new BookKeeper();
  for (const m of messages) keeper.apply(m);
  return keeper;
}

function assertTradesConsecutive(trades, what) {
  const last = new Map();
  for (const t of trades) {
    assert.equal(t.type, 'trade');
    assert.ok(Number.isInteger(t.trade_id) && Number.isInteger(t.seq) && Number.isInteger(t.ts), JSON.stringify(t));
    assert.match(t.price, /^\d+\.\d+$/);
    assert.match(t.size, /^\d+\.\d+$/);
    assert.ok(t.side === 'buy' || t.side === 'sell', JSON.stringify(t));
    assert.ok(!('snapshot' in t), 'trades have no snapshot');
    if (last.has(t.topic)) assert.equal(t.seq, last.get(t.topic) + 1, `${what}: ${t.topic} seq ${t.seq} after ${last.get(t.topic)}`);
    last.set(t.topic, t.seq);
  }
}

describe(`books and trades over protocol v1 (${FLAGS.join(' ')})`, () => {
  let gw;
  const clients = [];
  before(async () => {
    gw = await startGateway(FLAGS);
    await waitFor(async () => (await scrape(gw)).tickgate_topics >= TOPICS,
      { timeoutMs: 10000, what: `${TOPICS} topics published` });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    const exit = await gw?.stop();
    assert.equal(exit?.code, 0, `tickgate exit ${JSON.stringify(exit)}`);
  });

  test('list names book, book50 and trade topics of every symbol', async () => {
    const c = await connectReady(gw.wsUrl);
    clients.push(c);
    const reply = await c.request({ op: 'list', id: 1 }, 'topics');
    for (const topic of ['book.BTC-USD', 'book50.BTC-USD', 'trade.BTC-USD', 'book.ETH-USD', 'book50.SOL-USD'])
      assert.ok(reply.topics.includes(topic), `${topic} in ${reply.topics}`);
  });

  test('snapshot, then deltas that chain and checksum; a pattern over a held book adds no second copy; '
    + 'unsubscribe and resubscribe start from a new snapshot', { timeout: 20000 }, async () => {
    const c = await connectReady(gw.wsUrl);
    clients.push(c);
    await c.request({ op: 'subscribe', id: 1, topics: ['book.BTC-USD', 'book50.BTC-USD', 'trade.BTC-USD'] }, 'subscribed');
    const first = await c.next((m) => m.topic === 'book.BTC-USD');
    assert.equal(first.snapshot, true, 'the first message of a book topic is its snapshot');
    await delay(600);
    const both = await c.request({ op: 'subscribe', id: 2, topics: ['book.*'] }, 'subscribed');
    assert.deepEqual(both.topics, ['book.*']);
    await delay(800);
    await c.request({ op: 'unsubscribe', id: 3, topics: ['book.BTC-USD', 'book.*'] }, 'unsubscribed');
    await c.request({ op: 'subscribe', id: 4, topics: ['book.BTC-USD'] }, 'subscribed');
    await delay(600);

    const keeper = replayBooks(c.messages);
    const btc = keeper.get('book.BTC-USD');
    assert.equal(btc.snapshots, 2, 'one snapshot at the first subscribe, one after resubscribing, none for the pattern');
    assert.equal(keeper.get('book50.BTC-USD').snapshots, 1);
    assert.equal(keeper.get('book.ETH-USD').snapshots, 1, 'the pattern brought the other books, each with its snapshot');
    assert.ok(btc.messages > 20, `book.BTC-USD moved: ${btc.messages} messages`);
    assert.ok(keeper.get('book50.BTC-USD').messages >= btc.messages / 2);
    // A real book: both sides deep, never crossed.
    const bid = btc.best('bids');
    const ask = btc.best('asks');
    assert.ok(bid && ask && compareDecimal(bid[0], ask[0]) < 0, `best bid ${bid} below best ask ${ask}`);
    assert.equal(btc.bids.size, 10);
    assert.equal(keeper.get('book50.BTC-USD').asks.size, 50);
    assertTradesConsecutive(c.messages.filter((m) => m.type === 'trade'), 'trades');
    assert.ok(c.messages.filter((m) => m.type === 'trade').length > 10);
  });

  test('a ticker carries the best levels of the book and the last trade at that instant', { timeout: 20000 }, async () => {
    const c = await connectReady(gw.wsUrl);
    clients.push(c);
    await c.request({ op: 'subscribe', id: 1, topics: ['book.SOL-USD', 'trade.SOL-USD', 'ticker.SOL-USD'] }, 'subscribed');
    await delay(1500);
    const keeper = new BookKeeper();
    let lastTrade;
    let checked = 0;
    for (const m of c.messages) {
      if (keeper.apply(m)) continue;
      if (m.type === 'trade') lastTrade = m;
      if (m.type !== 'ticker' || m.snapshot !== false || !keeper.get('book.SOL-USD')) continue;
      const book = keeper.get('book.SOL-USD');
      assert.deepEqual([m.bid, m.bid_size], book.best('bids'), `ticker seq ${m.seq} bid against the book at seq ${book.seq}`);
      assert.deepEqual([m.ask, m.ask_size], book.best('asks'), `ticker seq ${m.seq} ask against the book at seq ${book.seq}`);
      if (lastTrade) assert.deepEqual([m.last, m.last_size], [lastTrade.price, lastTrade.size], `ticker seq ${m.seq} last trade`);
      checked++;
    }
    assert.ok(checked >= 20, `tickers checked against the book: ${checked}`);
  });

  test('a stalled client gets its pending deltas merged, and holds a valid book once it reads again', { timeout: 30000 }, async () => {
    const c = await connectReady(gw.wsUrl);
    const normal = await connectReady(gw.wsUrl);
    clients.push(c, normal);
    const topics = ['book.*', 'book50.*', 'trade.*', 'ticker.*'];
    await c.request({ op: 'subscribe', id: 1, topics }, 'subscribed');
    await normal.request({ op: 'subscribe', id: 1, topics: ['book.BTC-USD', 'trade.BTC-USD'] }, 'subscribed');
    await delay(300);
    const before = await scrape(gw);
    c.ws._socket.pause();  // stop reading: kernel buffers fill, then the gateway's queue conflates
    const merged = await waitFor(async () => {
      const s = await scrape(gw);
      return s.tickgate_book_deltas_merged_total > before.tickgate_book_deltas_merged_total ? s : null;
    }, { timeoutMs: 20000, intervalMs: 100, what: 'tickgate_book_deltas_merged_total rising' });
    await delay(300);
    c.ws._socket.resume();
    await delay(1000);
    assert.equal(c.closeInfo, null, 'book deltas merge instead of growing the queue: no slow-consumer close');
    const keeper = replayBooks(c.messages);  // every chain and checksum holds across the merge
    assert.ok(keeper.get('book50.BTC-USD').messages > 10);
    // Merged deltas skip seqs, but their prev_seq is what the client last got: the chain holds.
    const skipped = c.messages.filter((m) => m.type === 'book50' && m.snapshot === false && m.seq > m.prev_seq + 1);
    assert.ok(skipped.length > 0, 'some merged delta spans several source changes');
    // Trades past the half mark were dropped (the seq gap tells), and counted.
    const after = await scrape(gw);
    assert.ok(after.tickgate_trades_dropped_slow_total > before.tickgate_trades_dropped_slow_total,
      `trades dropped for the stalled client (merged: ${merged.tickgate_book_deltas_merged_total})`);
    // The other client saw none of it: every book message chained, every trade in sequence.
    replayBooks(normal.messages);
    assertTradesConsecutive(normal.messages.filter((m) => m.type === 'trade'), 'normal client trades');
  });
});

describe('books and trades over Socket.IO (socket.io-client)', () => {
  let gw;
  before(async () => {
    gw = await startGateway(FLAGS);
    await waitFor(async () => (await scrape(gw)).tickgate_topics >= TOPICS,
      { timeoutMs: 10000, what: `${TOPICS} topics published` });
  });
  after(async () => {
    const exit = await gw?.stop();
    assert.equal(exit?.code, 0, `tickgate exit ${JSON.stringify(exit)}`);
  });

  for (const transports of [['websocket'], ['polling']]) {
    test(`events book, book50 and trade carry the v1 objects (${transports})`, { timeout: 20000 }, async () => {
      const s = io(gw.httpsUrl, { rejectUnauthorized: false, reconnection: false, transports });
      const seen = [];
      for (const event of ['book', 'book50', 'trade']) s.on(event, (m) => seen.push({ event, m }));
      try {
        await new Promise((resolve, reject) => { s.once('connect', resolve); s.once('connect_error', reject); });
        const reply = await new Promise((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('no ack for subscribe')), 5000);
          s.emit('subscribe', ['book.BTC-USD', 'book50.*', 'trade.BTC-USD'], (r) => { clearTimeout(t); resolve(r); });
        });
        assert.deepEqual(withoutEpochs(reply), { topics: ['book.BTC-USD', 'book50.*', 'trade.BTC-USD'] });
        await delay(1500);
      } finally {
        s.close();
      }
      for (const { event, m } of seen) assert.equal(m.type, event, 'the event is named after the message type');
      const keeper = replayBooks(seen.map((x) => x.m));
      assert.ok(keeper.get('book.BTC-USD').messages > 10);
      assert.equal(keeper.get('book50.ETH-USD').snapshots, 1);
      assertTradesConsecutive(seen.filter((x) => x.event === 'trade').map((x) => x.m), 'Socket.IO trades');
    });
  }
});
