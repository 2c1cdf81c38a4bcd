// Replay of a recorded book file, end to end: a ws client records a real gateway's books, trades and
// ticker (the simulator's) for about a second, resubscribing halfway to get a second snapshot; one
// book50 delta of the recording is corrupted; a second gateway replays the file in a loop. Its
// clients must get exactly the recorded book states, in the recorded order, less the stretch from
// the broken line to the next snapshot, with every served message chaining and checksumming, the
// broken line named on stderr by its number, and the recorded trades in their order.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connectReady, delay, startGateway, tempDir, waitFor, writeReplay } from './support/gateway.mjs';
import { recordSimulator } from './support/recording.mjs';
import { BookKeeper, ReferenceBook } from './support/book.mjs';

const SYM = 'BTC-USD';
const BOOK50 = `book50.${SYM}`;
const BOOK = `book.${SYM}`;
const TRADE = `trade.${SYM}`;
const TOPICS = [`ticker.${SYM}`, BOOK, BOOK50, TRADE];

/** A view's whole state (every level, as strings), to compare books exactly. */
const stateOf = (book) => JSON.stringify([book.sorted('bids'), book.sorted('asks')]);
const top10Of = (book) => JSON.stringify([book.sorted('bids').slice(0, 10), book.sorted('asks').slice(0, 10)]);

/**
 * What the replay must serve of book50.BTC-USD: the state after each recorded line, without the
 * lines from a chain break to the next snapshot, consecutive equal states once (the gateway sends
 * nothing for a change that leaves a view as it was), as a cycle (the replay loops).
 */
function expectedCycle(lines) {
  const states = [];
  let book;
  let synced = false;
  let broken = false;
  for (const [m] of lines) {
    if (m.topic !== BOOK50) continue;
    const rebuilt = m.snapshot && broken;
    if (m.snapshot) {
      book = new ReferenceBook(BOOK50, 50);
      synced = true;
      broken = false;
    } else if (!synced || m.prev_seq !== book.seq) {
      synced = false;
      broken = true;
      continue;
    }
    book.apply(m);
    states.push({ key: stateOf(book), top10: top10Of(book), checksum: m.checksum, rebuilt });
  }
  const cycle = states.filter((s, i) => i === 0 || s.key !== states[i - 1].key);
  while (cycle.length > 1 && cycle.at(-1).key === cycle[0].key) cycle.pop();
  return cycle;
}

/**
 * Follows `served` (one value per message) through `cycle` (compared with `same`), from wherever
 * the first served value sits in it; every later one must be the next in the cycle. Returns the
 * cycle positions visited (of one consistent path), or throws saying where they part.
 */
function followCycle(served, cycle, same, what) {
  let paths = cycle.map((_, i) => i).filter((i) => same(served[0], cycle[i])).map((i) => [i]);
  assert.ok(paths.length > 0, `${what}: the first served value is no recorded one`);
  for (let k = 1; k < served.length; k++) {
    paths = paths.filter((p) => same(served[k], cycle[(p.at(-1) + 1) % cycle.length]));
    for (const p of paths) p.push((p.at(-1) + 1) % cycle.length);
    assert.ok(paths.length > 0, `${what}: served message ${k} is not the recording's next`);
  }
  return paths[0];
}

describe('replay of a recorded book file with one broken line', () => {
  const tmp = tempDir('tickgate-replay-books-');
  let lines;
  let brokenLine;
  let rebuiltLine;
  let gw;

  before(async () => {
    lines = await recordSimulator(TOPICS);
    const book50 = lines.map(([m], i) => [m, i]).filter(([m]) => m.topic === BOOK50);
    const snapshots = book50.filter(([m]) => m.snapshot).map(([, i]) => i);
    assert.equal(snapshots.length, 2, 'the recording holds two book50 snapshots');
    const firstRun = book50.filter(([m, i]) => !m.snapshot && i > snapshots[0] && i < snapshots[1]);
    assert.ok(firstRun.length >= 6, `enough deltas before the second snapshot (${firstRun.length})`);
    // The corrupted delta claims to follow a change it does not follow.
    const [victim, at] = firstRun[Math.floor(firstRun.length / 2)];
    lines[at][1] = lines[at][1].replace(/"prev_seq":\d+/, `"prev_seq":${victim.prev_seq - 1}`);
    lines[at][0] = { ...victim, prev_seq: victim.prev_seq - 1 };
    brokenLine = { number: at + 1, prevSeq: victim.prev_seq - 1, expected: victim.prev_seq };
    rebuiltLine = snapshots[1] + 1;
    writeReplay(tmp.dir, 'recorded.jsonl', lines.map(([, raw]) => raw));
    gw = await startGateway(['--feed', 'replay:recorded.jsonl,loop'], { cwd: tmp.dir });
  });
  after(async () => {
    const exit = await gw?.stop();
    tmp.cleanup();
    assert.equal(exit?.code, 0, `tickgate exit ${JSON.stringify(exit)}`);
  });

  test('the broken line is reported with its number, and the book rebuilt at the next snapshot line', async () => {
    const { number, prevSeq, expected } = brokenLine;
    await waitFor(() => gw.stderr.includes('rebuilt from this snapshot'), { what: 'the rebuild report' });
    assert.ok(gw.stderr.includes(`tickgate: replay recorded.jsonl:${number}: ${BOOK50} breaks its chain `
      + `(prev_seq ${prevSeq}, expected ${expected}); rebuilding from the next snapshot\n`), gw.stderr);
    assert.match(gw.stderr, new RegExp(`tickgate: replay recorded\\.jsonl:${rebuiltLine}: book50\\.BTC-USD rebuilt `
      + `from this snapshot \\(\\d+ lines left out since line ${number}\\)\\n`));
    assert.match(gw.stderr, new RegExp('tickgate: replay recorded\\.jsonl: book\\.BTC-USD: its \\d+ lines are left out: '
      + 'the gateway derives book\\.BTC-USD from book50\\.BTC-USD'));
    assert.equal((gw.stderr.match(/tickgate: replay recorded\.jsonl/g) || []).length, 3,
      `nothing else of the recording is refused:\n${gw.stderr}`);
  });

  test('clients get the recorded books, states and checksums in order, chains intact across the break '
    + 'and the loop, and the recorded trades', { timeout: 20000 }, async () => {
    const cycle = expectedCycle(lines);
    const c = await connectReady(gw.wsUrl);
    // A topic exists once its first line is replayed; the trades' comes a little after the books'.
    await waitFor(async () => {
      const { topics } = await c.request({ op: 'list', id: 0 }, 'topics');
      return TOPICS.every((t) => topics.includes(t));
    }, { what: `${TOPICS} replayed` });
    const subscribed = await c.request({ op: 'subscribe', id: 1, topics: TOPICS }, 'subscribed');
    assert.deepEqual(subscribed.topics, TOPICS);
    // The recording spans about a second; watch two laps and a bit.
    const tsOf = (raw) => BigInt(raw.match(/"ts":(\d+)/)[1]);
    const lap = Number(tsOf(lines.at(-1)[1]) - tsOf(lines[0][1])) / 1e6;
    await delay(2.3 * lap + 300);
    await c.close();

    // Every served book message chains on the previous one and checksums (throws otherwise).
    const keeper = new BookKeeper();
    const served50 = [];
    const served10 = [];
    for (const m of c.messages) {
      if (!keeper.apply(m)) continue;
      const book = keeper.get(m.topic);
      if (m.topic === BOOK50) served50.push({ key: stateOf(book), checksum: m.checksum });
      else served10.push(top10Of(book));
    }
    assert.ok(served50.length >= cycle.length + 2,
      `a whole lap served (${served50.length} of a ${cycle.length}-state cycle)`);
    const path = followCycle(served50, cycle, (s, e) => s.key === e.key, BOOK50);
    path.forEach((p, k) => assert.equal(served50[k].checksum, cycle[p].checksum, `recorded checksum at state ${p}`));
    assert.ok(path.some((p, k) => k > 0 && cycle[p].rebuilt), 'the book went from before the break to the next snapshot');
    assert.ok(keeper.get(BOOK50).messages === served50.length && keeper.get(BOOK50).snapshots === 1,
      'one snapshot, then deltas only: the rebuild and the lap seams reach clients as deltas');

    // The derived top 10 is, after each of its messages, the top 10 of a recorded book50 state.
    const top10s = new Set(cycle.map((s) => s.top10));
    assert.ok(served10.length > 0 && served10.every((s) => top10s.has(s)), `${BOOK} follows the recorded book50`);

    // Trades: the recorded ones, in order, lap after lap, with the replay's own consecutive seq.
    const recorded = lines.filter(([m]) => m.topic === TRADE).map(([m]) => m);
    const trades = c.messages.filter((m) => m.topic === TRADE);
    assert.ok(recorded.length > 0 && trades.length > recorded.length,
      `${trades.length} trades of ${recorded.length} recorded`);
    const sameTrade = (a, b) => a.trade_id === b.trade_id && a.price === b.price && a.size === b.size
      && a.side === b.side;
    followCycle(trades, recorded, sameTrade, TRADE);
    trades.forEach((t, k) => k === 0 || assert.equal(t.seq, trades[k - 1].seq + 1, `trade seq ${t.seq}`));
  });
});
