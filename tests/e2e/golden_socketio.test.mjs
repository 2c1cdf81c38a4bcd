// Golden frames, Socket.IO v5 over Engine.IO v4 on the WebSocket transport
// (/socket.io/?EIO=4&transport=websocket): every kind of frame the gateway sends, byte for byte,
// header included, against tests/e2e/golden/sio_*.txt. Long-polling: golden_polling.test.mjs.
// Run with UPDATE_GOLDEN=1 to rewrite the files when a change is meant.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MANY, RawWs, SNAP, Transcript, closePayload, liveLines, startReplayGateway, statusLines,
  withQuietStart,
} from './support/golden.mjs';

const T = { timeout: 30000 };
const WS_PATH = '/socket.io/?EIO=4&transport=websocket';
const gws = [];
async function gateway(name, lines, flags) {
  const gw = await startReplayGateway(name, lines, flags);
  gws.push(gw);
  return gw;
}
let A;  // TLS; the everyday session and the closes for malformed packets
before(async () => {
  A = await gateway('snap.jsonl', SNAP, ['--max-subscriptions', '4', '--max-message-bytes', '256', '--stale-ms', '600000']);
});
after(async () => { await Promise.all(gws.map((g) => g.stop().catch(() => {}))); });

const ev = (ack, ...args) => `42${ack ?? ''}${JSON.stringify(args)}`;

/** Opens a Socket.IO connection and CONNECTs to "/": open packet, CONNECT reply, welcome. */
async function connected(t, port, { tls = false, recordHandshake = false } = {}) {
  const ws = await RawWs.open(t, { port, tls, path: WS_PATH, recordHandshake });
  await ws.expect(1);
  ws.send('40');
  await ws.expect(2);
  return ws;
}

test('Socket.IO session over TLS: open, CONNECT, acks, events, errors, snapshots, disconnect', T, async () => {
  const t = new Transcript('sio_ws_session');
  const ws = await connected(t, A.wsPort, { tls: true, recordHandshake: true });
  t.note('another namespace: connect_error');
  ws.send('40/admin,');
  await ws.expect(1);
  t.note('acks: topics and the first error; then the snapshots');
  ws.send(ev(0, 'subscribe', ['ticker.BTC-USD', 'ticker.*', 'ticker.DOGE-EUR', 'Bad Topic']));
  await ws.expect(3);
  t.note('ack: only entries already held');
  ws.send(ev(1, 'subscribe', 'ticker.BTC-USD'));
  await ws.expect(1);
  t.note('ack: nothing accepted, only the error');
  ws.send(ev(2, 'subscribe', ['nope']));
  await ws.expect(1);
  t.note('ack: over --max-subscriptions 4, then the new snapshot');
  ws.send(ev(3, 'subscribe', ['perp.BTC-USD', '*.BTC-USD', '*.*']));
  await ws.expect(2);
  ws.send(ev(4, 'list'));
  await ws.expect(1);
  ws.send(ev(5, 'ping'));
  await ws.expect(1);
  ws.send(ev(6, 'unsubscribe', ['ticker.*', 'ticker.SOL-USD', 'Bad']));
  await ws.expect(1);
  t.note('without an ack: the v1 objects as events');
  ws.send(ev(undefined, 'subscribe', 'ticker.ETH-USD'));
  await ws.expect(2);
  ws.send(ev(undefined, 'unsubscribe', ['ticker.ETH-USD']));
  await ws.expect(1);
  ws.send(ev(undefined, 'subscribe', ['bad topic', 'ticker.NOPE-USD']));
  await ws.expect(2);
  ws.send(ev(undefined, 'list'));
  await ws.expect(1);
  ws.send(ev(undefined, 'ping', 'ignored'));
  await ws.expect(1);
  t.note('send(): v1 requests in a "message" event, replies as "message" events');
  for (const args of [[{ op: 'list', id: 1 }], [{ op: 'subscribe', id: 2, topics: ['ticker.NOPE-USD'] }],
    [{ op: 'ping', id: 'p' }], ['nope'], [], [{ op: 'list' }, 2]]) {
    ws.send(ev(undefined, 'message', ...args));
    await ws.expect(1);
  }
  ws.send(ev(7, 'message', { op: 'list', id: 3 }));
  await ws.expect(1);
  t.note('events of the wrong shape: bad_request, as an event or in the ack');
  for (const packet of [ev(undefined, 'subscribe'), ev(undefined, 'subscribe', 42), ev(undefined, 'subscribe', []),
    ev(undefined, 'nope', 1), ev(8, 'subscribe', 42), ev(9, 'nope'), ev(10, 'unsubscribe', 'a', 'b')]) {
    ws.send(packet);
    await ws.expect(1);
  }
  t.note('Engine.IO: a client ping is answered; pong, noop and a client ack get nothing (the list ack shows it)');
  ws.send('2', '2hello', '3', '6', '431[]', ev(11, 'list'));
  await ws.expect(3);
  t.note('a WebSocket ping is answered with a pong, as in v1');
  ws.send({ opcode: 9, payload: 'hb' });
  await ws.expect(1);
  t.note('Socket.IO DISCONNECT');
  ws.send('41');
  await ws.expect(1);
  await ws.closed();
  t.check();
});

test('Socket.IO closes: malformed packets 1002, Engine.IO close 1000, over --max-message-bytes 1009', T, async () => {
  const t = new Transcript('sio_close_codes');
  const cases = [
    ['a binary frame (attachments are not accepted)', { opcode: 2, payload: Buffer.from([4, 1, 2]) }],
    ['an empty Engine.IO packet', ''],
    ['an unknown Engine.IO type', '9'],
    ['an open packet from the client', '0{}'],
    ['an unknown Socket.IO type', '49'],
    ['a BINARY_EVENT', '451-["subscribe",{"_placeholder":true,"num":0}]'],
    ['an event that is not an array', '42{"op":"list"}'],
    ['an event payload that is not JSON', '42["list"'],
    ['an event with a reserved name', '42["connect"]'],
    ['a namespace with a control character', '42/a\x01b,["list"]'],
    ['an ack id over 2^53-1', '429007199254740992["list"]'],
    ['Engine.IO close', '1'],
    ['a message over --max-message-bytes 256', `42${JSON.stringify(['subscribe', 'x'.repeat(300)])}`],
  ];
  for (const [what, frame] of cases) {
    t.note(what);
    const ws = await connected(t, A.wsPort, { tls: true });
    ws.send(frame);
    await ws.expect(1);
    await ws.closed();
  }
  t.note('an event before CONNECT');
  const ws = await RawWs.open(t, { port: A.wsPort, tls: true, path: WS_PATH });
  await ws.expect(1);
  ws.send(ev(undefined, 'list'));
  await ws.expect(1);
  await ws.closed();
  t.check();
});

test('Socket.IO live updates: snapshot event, then live events of a held topic and a new one', T, async () => {
  await withQuietStart('live', liveLines, 1, ['--no-tls', '--stale-ms', '600000'], async (gw) => {
    const t = new Transcript('sio_live');
    const ws = await connected(t, gw.wsPort);
    ws.send(ev(0, 'subscribe', ['ticker.*']));
    await ws.expect(2);
    return { t, ws };
  }, async (gw, { t, ws }) => {
    await ws.expect(2);
    ws.send('41');
    await ws.expect(1);
    await ws.closed();
    t.check();
  });
});

test('Socket.IO status events: stale (--stale-ms 100), ok, stale again', T, async () => {
  await withQuietStart('status', statusLines, 1, ['--no-tls', '--stale-ms', '100'], async (gw) => {
    const t = new Transcript('sio_status');
    const ws = await connected(t, gw.wsPort);
    // Before or after the feed went stale, the next frame is the same stale status (see v1_status).
    await ws.expect(1);
    return { t, ws };
  }, async (gw, { t, ws }) => {
    await ws.expect(2, 10000);
    ws.send('41');
    await ws.expect(1);
    await ws.closed();
    t.check();
  });
});

test('Socket.IO pings (--heartbeat-ms 1000): open packet intervals, "2", then 1001 for a silent client', T, async () => {
  const gw = await gateway('hb.jsonl', SNAP, ['--no-tls', '--heartbeat-ms', '1000', '--stale-ms', '600000']);
  const t = new Transcript('sio_heartbeat');
  // No CONNECT: pings are Engine.IO's, and a CONNECT sent late on a loaded machine could land
  // after the first ping. Nothing here has to happen within a heartbeat.
  const ws = await RawWs.open(t, { port: gw.wsPort, path: WS_PATH });
  await ws.expect(2);
  ws.send('3');
  await ws.expect(1);
  t.note('silent from here; how many more pings come before the timeout depends on the sweep timer');
  ws.skip = (f) => f.opcode === 1 && f.payload.toString() === '2';
  await ws.until((f) => f.opcode === 8, 'the close frame', 10000);
  await ws.closed();
  t.check();
});

test('Socket.IO rate limit (--client-rate 1): two acks, a rate_limited event, close 1008', T, async () => {
  const gw = await gateway('rate.jsonl', SNAP, ['--no-tls', '--client-rate', '1', '--stale-ms', '600000']);
  const t = new Transcript('sio_rate_limit');
  const ws = await connected(t, gw.wsPort);
  t.note('four events in one write (CONNECT took no token): the burst is 2, one strike is tolerated');
  ws.send(...[1, 2, 3, 4].map((id) => ev(id, 'list')));
  await ws.expect(4);
  await ws.closed();
  t.check();
});

test('Socket.IO slow consumer: snapshots over --max-queue-bytes 4096 close with 1008', T, async () => {
  const gw = await gateway('many.jsonl', MANY, ['--no-tls', '--max-queue-bytes', '4096', '--stale-ms', '600000']);
  const t = new Transcript('sio_slow_consumer');
  const ws = await connected(t, gw.wsPort);
  ws.send(ev(0, 'subscribe', 'ticker.*'));
  await ws.expect(1);
  await ws.closed();
  t.check();
});

test('Socket.IO shutdown: SIGTERM closes with 1001 going away', T, async () => {
  const gw = await gateway('shutdown.jsonl', SNAP, ['--no-tls', '--stale-ms', '600000']);
  const t = new Transcript('sio_shutdown');
  const ws = await connected(t, gw.wsPort);
  gw.proc.kill('SIGTERM');
  await ws.expect(1);
  await ws.closed();
  assert.equal((await gw.stop()).code, 0);
  t.check();
});
