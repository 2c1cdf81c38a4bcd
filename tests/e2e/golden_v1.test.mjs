// Golden frames, protocol v1 (/ws): every kind of frame the gateway sends a v1 client, byte for
// byte, header included, against tests/e2e/golden/v1_*.txt. A change in any byte fails; run with
// UPDATE_GOLDEN=1 to rewrite the files when a change is meant.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MANY, RawWs, SNAP, Transcript, closePayload, liveLines, startReplayGateway, statusLines,
  withQuietStart,
} from './support/golden.mjs';

const T = { timeout: 30000 };
const gws = [];
async function gateway(name, lines, flags) {
  const gw = await startReplayGateway(name, lines, flags);
  gws.push(gw);
  return gw;
}
let A;  // TLS; the everyday session and the client-error closes
before(async () => {
  A = await gateway('snap.jsonl', SNAP, ['--max-subscriptions', '4', '--max-message-bytes', '256', '--stale-ms', '600000']);
});
after(async () => { await Promise.all(gws.map((g) => g.stop().catch(() => {}))); });

const tlsOpen = (t, urlPath, opts = {}) => RawWs.open(t, { port: A.wsPort, tls: true, path: urlPath, ...opts });
const json = (o) => JSON.stringify(o);

test('v1 session over TLS: 101, welcome, acks, errors, snapshots, list, pong, close', T, async () => {
  const t = new Transcript('v1_session');
  const ws = await tlsOpen(t, '/ws', { recordHandshake: true });
  await ws.expect(1);
  t.note('one malformed, one unknown, one exact and one pattern: bad_request, unknown_topic, ack, 2 snapshots');
  ws.send(json({ op: 'subscribe', id: 1, topics: ['ticker.BTC-USD', 'ticker.*', 'ticker.DOGE-EUR', 'Bad Topic'] }));
  await ws.expect(5);
  t.note('only entries already held: an ack with no topics');
  ws.send(json({ op: 'subscribe', id: 's2', topics: ['ticker.BTC-USD'] }));
  await ws.expect(1);
  t.note('nothing valid: the errors and no ack');
  ws.send(json({ op: 'subscribe', id: 3, topics: ['nope', 'ticker.NOPE-USD'] }));
  await ws.expect(2);
  t.note('over --max-subscriptions 4: too_many_subscriptions, ack for the two that fit, the new snapshot');
  ws.send(json({ op: 'subscribe', id: 4, topics: ['perp.BTC-USD', '*.BTC-USD', '*.*'] }));
  await ws.expect(3);
  ws.send(json({ op: 'list', id: 'l' }));
  await ws.expect(1);
  ws.send(json({ op: 'ping', id: 5 }));
  await ws.expect(1);
  ws.send(json({ op: 'ping' }));
  await ws.expect(1);
  t.note('unsubscribe: a malformed entry, one held, one not held');
  ws.send(json({ op: 'unsubscribe', id: 6, topics: ['ticker.*', 'ticker.SOL-USD', 'Bad'] }));
  await ws.expect(2);
  t.note('bad_request, one per request shape');
  for (const text of [
    'not json', '[1]', json({ id: 7 }), json({ op: 5, id: 7 }), json({ op: 'dance', id: 'x' }),
    json({ op: 'subscribe', id: 8 }), json({ op: 'subscribe', id: 9, topics: 'ticker.BTC-USD' }),
    json({ op: 'subscribe', id: 10, topics: [] }), json({ op: 'unsubscribe', id: 11, topics: [1] }),
    json({ op: 'list', id: [1] }), json({ op: 'list', id: 1.5 }),
  ]) {
    ws.send(text);
    await ws.expect(1);
  }
  t.note('a binary frame: bad_request, the connection stays');
  ws.send({ opcode: 2, payload: Buffer.from([1, 2, 3]) });
  await ws.expect(1);
  t.note('a client ping: the pong echoes its payload');
  ws.send({ opcode: 9, payload: 'hb-1' });
  await ws.expect(1);
  ws.send(json({ op: 'list', id: 'after' }));
  await ws.expect(1);
  t.note('the client closes: the server echoes the code');
  ws.send({ opcode: 8, payload: closePayload(1000, 'done') });
  await ws.expect(1);
  await ws.closed();
  t.check();
});

test('v1 ?subscribe= at connect: welcome, errors and ack without id, snapshots', T, async () => {
  const t = new Transcript('v1_subscribe_at_connect');
  const ws = await tlsOpen(t, '/ws?subscribe=ticker.ETH-USD,ticker.NOPE-USD,,x,perp.*');
  await ws.expect(5);
  t.note('a close code of the client\'s own is echoed');
  ws.send({ opcode: 8, payload: closePayload(4000, 'bye') });
  await ws.expect(1);
  await ws.closed();
  t.check();
});

test('v1 closes for client faults: 1009, 1007, 1002 (unmasked, reserved bits, fragmented control)', T, async () => {
  const t = new Transcript('v1_close_codes');
  const cases = [
    ['a text message over --max-message-bytes 256', { payload: json({ op: 'list', id: 'x'.repeat(300) }) }],
    ['a text message that is not UTF-8', { payload: Buffer.from([0x7b, 0xc3, 0x28, 0x7d]) }],
    ['an unmasked frame', { payload: json({ op: 'list' }), mask: false }],
    ['reserved bits set', { payload: json({ op: 'list' }), rsv: 4 }],
    ['a fragmented ping', { opcode: 9, payload: 'x', fin: false }],
  ];
  for (const [what, frame] of cases) {
    t.note(what);
    const ws = await tlsOpen(t, '/ws');
    await ws.expect(1);
    ws.send(frame);
    await ws.expect(1);
    await ws.closed();
  }
  t.check();
});

test('v1 live updates: snapshot, then live ones of a held topic and of one that appears later', T, async () => {
  await withQuietStart('live', liveLines, 1, ['--no-tls', '--stale-ms', '600000'], async (gw) => {
    const t = new Transcript('v1_live');
    const ws = await RawWs.open(t, { port: gw.wsPort, path: '/ws' });
    await ws.expect(1);
    ws.send(json({ op: 'subscribe', id: 1, topics: ['ticker.*'] }));
    await ws.expect(2);
    return { t, ws };
  }, async (gw, { t, ws }) => {
    t.note('live: BTC seq 2, ETH seq 1 (not a snapshot: it is new)');
    await ws.expect(2);
    ws.send({ opcode: 8, payload: closePayload(1000) });
    await ws.expect(1);
    await ws.closed();
    t.check();
  });
});

test('v1 status frames: stale (--stale-ms 100), ok when updates resume, stale again', T, async () => {
  await withQuietStart('status', statusLines, 1, ['--no-tls', '--stale-ms', '100'], async (gw) => {
    const t = new Transcript('v1_status');
    const ws = await RawWs.open(t, { port: gw.wsPort, path: '/ws' });
    await ws.expect(1);
    // Connected before or after the feed went stale, the next frame is the same stale status:
    // either the live one or the one a welcome is followed by while the feed is stale.
    await ws.expect(1);
    return { t, ws };
  }, async (gw, { t, ws }) => {
    await ws.expect(2, 10000);
    ws.send({ opcode: 8, payload: closePayload(1000) });
    await ws.expect(1);
    await ws.closed();
    t.check();
  });
});

test('v1 server pings (--heartbeat-ms 1000), then 1001 heartbeat timeout for a silent client', T, async () => {
  const gw = await gateway('hb.jsonl', SNAP, ['--no-tls', '--heartbeat-ms', '1000', '--stale-ms', '600000']);
  const t = new Transcript('v1_heartbeat');
  const ws = await RawWs.open(t, { port: gw.wsPort, path: '/ws' });
  await ws.expect(2);
  ws.send({ opcode: 10, payload: '' });
  await ws.expect(1);
  t.note('silent from here; how many more pings come before the timeout depends on the sweep timer');
  ws.skip = (f) => f.opcode === 9;
  await ws.until((f) => f.opcode === 8, 'the close frame', 10000);
  await ws.closed();
  t.check();
});

test('v1 rate limit (--client-rate 1): two served, rate_limited, then close 1008', T, async () => {
  const gw = await gateway('rate.jsonl', SNAP, ['--no-tls', '--client-rate', '1', '--stale-ms', '600000']);
  const t = new Transcript('v1_rate_limit');
  const ws = await RawWs.open(t, { port: gw.wsPort, path: '/ws' });
  await ws.expect(1);
  t.note('four requests in one write: the burst is 2, one strike is tolerated, the second closes');
  ws.send(...[1, 2, 3, 4].map((id) => json({ op: 'list', id })));
  await ws.expect(4);
  await ws.closed();
  t.check();
});

test('v1 slow consumer: snapshots over --max-queue-bytes 4096 close with 1008, the backlog dropped', T, async () => {
  const gw = await gateway('many.jsonl', MANY, ['--no-tls', '--max-queue-bytes', '4096', '--stale-ms', '600000']);
  const t = new Transcript('v1_slow_consumer');
  const ws = await RawWs.open(t, { port: gw.wsPort, path: '/ws' });
  await ws.expect(1);
  ws.send(json({ op: 'subscribe', id: 1, topics: ['ticker.*'] }));
  await ws.expect(1);
  await ws.closed();
  t.check();
});

test('v1 shutdown: SIGTERM closes with 1001 going away', T, async () => {
  const gw = await gateway('shutdown.jsonl', SNAP, ['--no-tls', '--stale-ms', '600000']);
  const t = new Transcript('v1_shutdown');
  const ws = await RawWs.open(t, { port: gw.wsPort, path: '/ws' });
  await ws.expect(1);
  gw.proc.kill('SIGTERM');
  await ws.expect(1);
  await ws.closed();
  const exit = await gw.stop();
  assert.equal(exit.code, 0);
  t.check();
});
