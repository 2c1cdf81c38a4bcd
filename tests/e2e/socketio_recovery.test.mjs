// Socket.IO connection state recovery (--socketio-recovery-ms) with the stock socket.io-client 4.x:
// a forced engine close (socket.io.engine.close(), what a network drop looks like to the client),
// then the client reconnects by itself with {pid, offset} in its CONNECT and gets
// socket.recovered === true and every event it missed, over WebSocket and long-polling. And the
// other outcomes: the history does not reach back (the subscriptions come back with snapshots under
// a new pid), the window expired (a fresh session), another token sub presents the pid (refused,
// and the pid is forgotten), the client's own disconnect() (nothing kept), and recovery off by
// default (no pid, no offset argument).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { delay, scrape, startGateway, tempDir, waitFor } from './support/gateway.mjs';
import { claims, ecKeys, es256, stopChecked, writeKey } from './support/jwt.mjs';
import { withoutEpochs } from './support/checks.mjs';

const T = { timeout: 30000 };
const sockets = [];
let gw;      // recovery on, a deep history, trades too
let short;   // recovery on, a 3-message history and a 1.5 s window
let authGw;  // recovery on, with tokens
let off;     // the defaults: recovery off
let dir;
const key = ecKeys();

before(async () => {
  dir = tempDir('tickgate-sio-recovery-');
  [gw, short, authGw, off] = await Promise.all([
    startGateway(['--symbols', '3', '--rate', '300', '--trade-rate', '150', '--history', '5000',
      '--socketio-recovery-ms', '5000'], { threads: 2 }),
    startGateway(['--symbols', '2', '--rate', '400', '--history', '3', '--socketio-recovery-ms', '1500'], { threads: 2 }),
    startGateway(['--symbols', '2', '--rate', '200', '--history', '2000', '--socketio-recovery-ms', '5000',
      '--jwt-public-key-file', writeKey(dir.dir, 'k.pem', key.publicPem)], { threads: 2 }),
    startGateway(['--symbols', '2', '--rate', '200', '--history', '100'], { threads: 2 }),
  ]);
});
after(async () => {
  for (const s of sockets) s.close();
  for (const g of [gw, short, authGw, off]) await stopChecked(g);
  dir?.cleanup();
});

function client(g, { transports = ['websocket'], reconnection = false, auth } = {}) {
  const s = io(g.httpsUrl, {
    rejectUnauthorized: false, transports, reconnection, reconnectionDelay: 300, reconnectionDelayMax: 300,
    randomizationFactor: 0, ...(auth ? { auth } : {}),
  });
  sockets.push(s);
  return s;
}
const connected = (s, timeoutMs = 5000) => new Promise((resolve, reject) => {
  const t = setTimeout(() => reject(new Error(`no connect within ${timeoutMs} ms`)), timeoutMs);
  s.once('connect', () => { clearTimeout(t); resolve(); });
  s.once('connect_error', (e) => { clearTimeout(t); reject(e); });
});
const disconnected = (s) => new Promise((resolve) => s.once('disconnect', resolve));
const ack = (s, event, arg) => new Promise((resolve) => s.emit(event, arg, resolve));

/** Every ticker and trade event, with the offset argument the gateway added (or undefined). */
function collect(s) {
  const events = [];
  for (const channel of ['ticker', 'trade'])
    s.on(channel, (m, offset, ...rest) => events.push({ channel, topic: m.topic, seq: m.seq, snapshot: m.snapshot === true, offset, rest }));
  return events;
}
const live = (events) => events.filter((e) => !e.snapshot);

const counter = async (g, result) => (await scrape(g))[`tickgate_socketio_recoveries_total{result="${result}"}`] ?? 0;
const skippedBehind = async (g) => (await scrape(g))['tickgate_updates_skipped_behind_total'] ?? 0;

/**
 * Per topic, seqs rise by exactly one and offsets rise: nothing missed, nothing twice. A ticker gap
 * is allowed only when the gateway says it skipped superseded tickers on purpose (a worker more than
 * 250 ms behind on an overloaded machine); trades are never skipped.
 */
async function assertContinuous(g, events, skippedBefore, what) {
  const last = new Map();
  const gaps = [];
  for (const e of live(events)) {
    const prev = last.get(e.topic);
    if (prev) {
      assert.ok(e.seq > prev.seq, `${what}: ${e.topic} seq ${e.seq} after ${prev.seq} (repeated or reordered)`);
      assert.ok(BigInt(e.offset) > BigInt(prev.offset), `${what}: ${e.topic} offset ${e.offset} after ${prev.offset}`);
      if (e.seq !== prev.seq + 1) gaps.push({ channel: e.channel, text: `${e.topic}: ${prev.seq} -> ${e.seq}` });
    }
    last.set(e.topic, e);
  }
  assert.deepEqual(gaps.filter((x) => x.channel === 'trade').map((x) => x.text), [], `${what}: trades missed`);
  if (gaps.length) assert.ok(await skippedBehind(g) > skippedBefore, `${what}: ticker gaps not skipped on purpose: ${gaps.map((x) => x.text)}`);
}

for (const [mode, transports] of [['websocket', ['websocket']], ['polling', ['polling']],
  ['default transports (polling, then the upgrade)', undefined]]) {
  test(`${mode}: a forced engine close, then socket.recovered and every missed ticker and trade`, T, async () => {
    const skipped = await skippedBehind(gw);
    const recoveredBefore = await counter(gw, 'recovered');
    const s = client(gw, { transports, reconnection: true });
    const events = collect(s);
    let connects = 0;
    // The usual app: subscribe on every connect that did not recover.
    s.on('connect', () => {
      connects += 1;
      if (!s.recovered) s.emit('subscribe', ['ticker.*', 'trade.*']);
    });
    await connected(s);
    assert.equal(s.recovered, false);
    const pid = s._pid;
    assert.match(pid, /^[0-9a-f]{32}$/, 'the CONNECT reply carries a 128-bit pid');
    if (!transports) await waitFor(() => s.io.engine?.transport?.name === 'websocket', { what: 'the upgrade' });
    await waitFor(() => live(events).filter((e) => e.channel === 'trade').length >= 20, { what: 'trades before the drop' });
    for (const e of live(events)) assert.match(e.offset, /^[1-9][0-9]*$/, 'every live event carries its offset');
    assert.ok(live(events).every((e) => e.rest.length === 0));
    assert.ok(events.filter((e) => e.snapshot).every((e) => e.offset === undefined), 'snapshots carry no offset');

    const before = events.length;
    const gone = disconnected(s);
    s.io.engine.close();
    assert.equal(await gone, 'forced close');
    // The reconnection waits 300 ms: some 130 events are published meanwhile.
    await waitFor(() => connects === 2, { timeoutMs: 10000, what: 'the reconnection' });
    assert.equal(s.recovered, true, 'socket.recovered after the reconnection');
    assert.equal(s._pid, pid, 'the same pid');
    await waitFor(() => events.length >= before + 300, { timeoutMs: 10000, what: 'events after the reconnection' });
    await assertContinuous(gw, events, skipped, mode);
    const after = live(events).slice(before);
    assert.ok(after.length > 0 && after.every((e) => !e.snapshot), 'no snapshot after a recovery');
    assert.ok(await counter(gw, 'recovered') > recoveredBefore);
    s.close();
  });
}

test('a connection lost without any close (its TCP socket destroyed) is recovered too', T, async () => {
  // No close frame, no Engine.IO close packet: the gateway sees the connection end (1006).
  const s = client(gw, { reconnection: true });
  const events = collect(s);
  s.on('connect', () => { if (!s.recovered) s.emit('subscribe', ['trade.*']); });
  await connected(s);
  await waitFor(() => live(events).length >= 10, { what: 'trades' });
  const skipped = await skippedBehind(gw);
  const pid = s._pid;
  const gone = disconnected(s);
  s.io.engine.transport.ws._socket.destroy();
  await gone;
  await waitFor(() => s.connected, { timeoutMs: 10000, what: 'the reconnection' });
  assert.equal(s.recovered, true);
  assert.equal(s._pid, pid);
  const n = events.length;
  await waitFor(() => events.length >= n + 30, { what: 'trades after the reconnection' });
  await assertContinuous(gw, events, skipped, 'lost connection');
  s.close();
});

test('socket.disconnect() ends the session: nothing is kept, the pid recovers nothing', T, async () => {
  const s = client(gw);
  const events = collect(s);
  await connected(s);
  assert.deepEqual(withoutEpochs(await ack(s, 'subscribe', ['ticker.*'])), { topics: ['ticker.*'] });
  await waitFor(() => live(events).length >= 5, { what: 'tickers' });
  const pid = s._pid;
  const refused = await counter(gw, 'refused');
  s.disconnect();  // DISCONNECT (41), then the transport closes
  await delay(100);
  s.connect();
  await connected(s);
  assert.equal(s.recovered, false);
  assert.notEqual(s._pid, pid);
  const n = events.length;
  await delay(300);
  assert.equal(events.length, n, 'a fresh session: no subscription came back');
  assert.ok(await counter(gw, 'refused') > refused, 'the CONNECT still claimed the pid, and was refused');
  s.close();
});

test('recovery refused when the history does not reach back: a new pid, the subscriptions back with snapshots', T, async () => {
  // 3 messages per topic at 200 updates/s per topic: the history reaches back some 15 ms.
  const restored = await counter(short, 'restored');
  const s = client(short);
  const events = collect(s);
  await connected(s);
  assert.deepEqual(withoutEpochs(await ack(s, 'subscribe', ['ticker.*'])), { topics: ['ticker.*'] });
  await waitFor(() => live(events).length >= 10, { what: 'tickers' });
  const pid = s._pid;
  const gone = disconnected(s);
  s.io.engine.close();
  await gone;
  await delay(400);
  const subscribed = new Promise((resolve) => s.once('subscribed', resolve));
  const n = events.length;
  s.connect();  // without re-subscribing
  await connected(s);
  assert.equal(s.recovered, false);
  assert.match(s._pid, /^[0-9a-f]{32}$/);
  assert.notEqual(s._pid, pid);
  assert.deepEqual((await subscribed).topics, ['ticker.*']);
  await waitFor(() => events.slice(n).some((e) => e.snapshot) && live(events.slice(n)).length >= 5,
    { what: 'snapshots, then live tickers' });
  const firstLive = events.slice(n).findIndex((e) => !e.snapshot);
  assert.ok(events.slice(n, n + firstLive).length >= 1, 'the snapshots come first');
  assert.ok(await counter(short, 'restored') > restored);
  s.close();
});

test('recovery refused once --socketio-recovery-ms has passed: a new pid and a fresh session', T, async () => {
  const expired = await counter(short, 'expired');
  const s = client(short);
  const events = collect(s);
  await connected(s);
  assert.deepEqual(withoutEpochs(await ack(s, 'subscribe', ['ticker.*'])), { topics: ['ticker.*'] });
  await waitFor(() => live(events).length >= 5, { what: 'tickers' });
  const pid = s._pid;
  const gone = disconnected(s);
  s.io.engine.close();
  await gone;
  await delay(2200);  // past the 1500 ms window
  s.connect();
  await connected(s);
  assert.equal(s.recovered, false);
  assert.notEqual(s._pid, pid);
  const n = events.length;
  await delay(300);
  assert.equal(events.length, n, 'no subscription came back');
  assert.ok(await counter(short, 'expired') > expired);
  s.close();
});

test('with tokens: the same sub recovers; another sub presenting the pid is refused and the pid is forgotten', T, async () => {
  const token = (sub) => es256(key.privateKey, claims({ sub }));
  // alice drops and recovers with her token.
  const a = client(authGw, { auth: { token: token('alice') } });
  const events = collect(a);
  await connected(a);
  assert.deepEqual(withoutEpochs(await ack(a, 'subscribe', ['ticker.*'])), { topics: ['ticker.*'] });
  await waitFor(() => live(events).length >= 5, { what: 'tickers' });
  let pid = a._pid;
  let gone = disconnected(a);
  a.io.engine.close();
  await gone;
  a.connect();
  await connected(a);
  assert.equal(a.recovered, true);
  assert.equal(a._pid, pid);

  // She drops again; mallory, with a token of her own, presents alice's pid and offset.
  await waitFor(() => live(events).length >= 10, { what: 'more tickers' });
  pid = a._pid;
  gone = disconnected(a);
  a.io.engine.close();
  await gone;
  const m = client(authGw, { auth: { token: token('mallory'), pid, offset: a._lastOffset } });
  const stolen = collect(m);
  await connected(m);
  assert.notEqual(m._pid, pid, 'mallory gets a pid of her own');
  await delay(300);
  assert.equal(stolen.length, 0, "none of alice's subscriptions or events");
  // The pid was shown by someone else: alice cannot recover with it any more either.
  a.connect();
  await connected(a);
  assert.equal(a.recovered, false);
  assert.notEqual(a._pid, pid);
  a.close();
  m.close();
});

test('off by default: no pid in the CONNECT reply, no offset argument on events, no recovery', T, async () => {
  const s = client(off, { reconnection: true });
  const events = collect(s);
  let connects = 0;
  s.on('connect', () => { connects += 1; });
  await connected(s);
  assert.equal(s._pid, undefined);
  assert.deepEqual(withoutEpochs(await ack(s, 'subscribe', ['ticker.*'])), { topics: ['ticker.*'] });
  await waitFor(() => live(events).length >= 5, { what: 'tickers' });
  assert.ok(live(events).every((e) => e.offset === undefined), 'no offset argument');
  s.io.engine.close();
  await waitFor(() => connects === 2, { timeoutMs: 10000, what: 'the reconnection' });
  assert.ok(!s.recovered);  // undefined: recovered = pid && ..., and there is no pid
  const n = events.length;
  await delay(300);
  assert.equal(events.length, n, 'a fresh session');
  const metrics = await scrape(off);
  assert.equal(metrics['tickgate_socketio_recovery_sessions'] ?? 0, 0, 'nothing kept when it is off');
  s.close();
});
