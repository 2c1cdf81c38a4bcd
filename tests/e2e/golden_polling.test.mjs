// Golden responses, Engine.IO v4 long-polling (/socket.io/?EIO=4&transport=polling): whole HTTP
// responses (status line, headers, body) byte for byte against tests/e2e/golden/polling_*.txt,
// and the WebSocket frames of the upgrade from polling. Run with UPDATE_GOLDEN=1 to rewrite them.
import { after, before, test } from 'node:test';
import {
  RawWs, SNAP, Transcript, heldGet, httpRequest, startReplayGateway,
} from './support/golden.mjs';

const T = { timeout: 30000 };
const BASE = '/socket.io/?EIO=4&transport=polling';
const GOOD = 'Origin: http://good.example';
const gws = [];
async function gateway(name, lines, flags) {
  const gw = await startReplayGateway(name, lines, flags);
  gws.push(gw);
  return gw;
}
let P;
before(async () => {
  P = await gateway('snap.jsonl', SNAP, ['--no-tls', '--max-message-bytes', '256', '--stale-ms', '600000',
    '--allowed-origins', 'http://good.example']);
});
after(async () => { await Promise.all(gws.map((g) => g.stop().catch(() => {}))); });

const ev = (ack, ...args) => `42${ack ?? ''}${JSON.stringify(args)}`;
const RS = '\x1e';

/** One request, awaited and recorded. */
async function call(t, gw, opts) { return t.response(httpRequest(t, { port: gw.wsPort, ...opts })); }

/** The handshake GET; returns the sid, which the transcript then hides in URLs too. */
async function open(t, gw) {
  const r = await call(t, gw, { path: BASE });
  const sid = JSON.parse(r.text.slice(1)).sid;
  t.sid(sid);
  return sid;
}

test('polling session: open packet, CONNECT, batched packets both ways, CORS, preflight', T, async () => {
  const t = new Transcript('polling_session');
  const sid = await open(t, P);
  const url = `${BASE}&sid=${sid}`;
  await call(t, P, { method: 'POST', path: url, body: '40' });
  t.note('the CONNECT reply and the welcome in one body, joined with \\x1e');
  await call(t, P, { path: url });
  t.note('several packets in one POST; their replies and the snapshot in one GET');
  await call(t, P, {
    method: 'POST', path: url,
    body: [ev(0, 'subscribe', ['ticker.BTC-USD', 'Bad Topic']), ev(1, 'list'), ev(undefined, 'ping'), '40/admin,',
      ev(undefined, 'subscribe', 'ticker.NOPE-USD'), ev(2, 'ping'), ev(undefined, 'message', { op: 'list', id: 1 })].join(RS),
  });
  await call(t, P, { path: url });
  t.note('an allowed Origin: CORS headers on POST and GET');
  await call(t, P, { method: 'POST', path: url, headers: [GOOD], body: ev(undefined, 'unsubscribe', 'ticker.BTC-USD') });
  await call(t, P, { path: url, headers: [GOOD] });
  t.note('a CORS preflight');
  await call(t, P, { method: 'OPTIONS', path: url, headers: [GOOD, 'Access-Control-Request-Method: POST', 'Access-Control-Request-Headers: content-type'] });
  t.note('Connection: close is answered in kind');
  await call(t, P, { method: 'POST', path: url, headers: ['Connection: close'], body: ev(3, 'list') });
  await call(t, P, { path: url, headers: ['Connection: close'] });
  t.note('the client closes: its held GET gets the close packet, then the sid is gone');
  const held = await heldGet(t, P, url);
  await call(t, P, { method: 'POST', path: url, body: '1' });
  await t.response(held);
  await call(t, P, { path: url });
  t.check();
});

test('polling errors: unknown sid, bad handshake, bad query, forbidden origin, malformed body, overlap, 413', T, async () => {
  const t = new Transcript('polling_errors');
  t.note('requests without a session');
  await call(t, P, { path: `${BASE}&sid=AAAAAAAAAAAAAAAA` });
  await call(t, P, { method: 'POST', path: `${BASE}&sid=AAAAAAAAAAAAAAAA`, body: '40' });
  await call(t, P, { method: 'POST', path: BASE, body: '40' });
  await call(t, P, { path: '/socket.io/?EIO=3&transport=polling' });
  await call(t, P, { path: '/socket.io/?EIO=4&transport=carrier-pigeon' });
  await call(t, P, { path: '/socket.io/?transport=polling' });
  await call(t, P, { path: BASE, headers: ['Origin: http://evil.example'] });
  for (const [what, body] of [['an empty packet', ''], ['an unknown packet type', '9'], ['bad base64', 'bnot base64!'],
    ['an empty packet in a batch', `40${RS}`], ['a body over --max-message-bytes 256', ev(undefined, 'subscribe', 'x'.repeat(300))]]) {
    t.note(`${what}: the POST is refused, the session ends, its held GET gets the close packet`);
    const sid = await open(t, P);
    const url = `${BASE}&sid=${sid}`;
    const held = await heldGet(t, P, url);
    await call(t, P, { method: 'POST', path: url, body });
    await t.response(held);
  }
  t.note('a second GET while one is held: 400, and the held one gets the close packet');
  const sid = await open(t, P);
  const url = `${BASE}&sid=${sid}`;
  const held = await heldGet(t, P, url);
  await call(t, P, { path: url });
  await t.response(held);
  t.check();
});

test('polling upgrade: 2probe/3probe, the held GET released with a noop, 5, the queue moves over', T, async () => {
  const t = new Transcript('polling_upgrade');
  const sid = await open(t, P);
  const url = `${BASE}&sid=${sid}`;
  await call(t, P, { method: 'POST', path: url, body: '40' });
  await call(t, P, { path: url });
  const held = await heldGet(t, P, url);
  const ws = await RawWs.open(t, { port: P.wsPort, path: `/socket.io/?EIO=4&transport=websocket&sid=${sid}`, recordHandshake: true });
  ws.send('2probe');
  await ws.expect(1);
  await t.response(held);
  t.note('a second probe for the same sid is refused');
  const other = await RawWs.open(t, { port: P.wsPort, path: `/socket.io/?EIO=4&transport=websocket&sid=${sid}` });
  await other.expect(1);
  await other.closed();
  t.note('queued on the polling side before the upgrade completes: it arrives over the WebSocket');
  await call(t, P, { method: 'POST', path: url, body: [ev(1, 'subscribe', 'ticker.ETH-USD'), ev(2, 'list')].join(RS) });
  ws.send('5');
  await ws.expect(3);
  ws.send(ev(3, 'unsubscribe', 'ticker.ETH-USD'));
  await ws.expect(1);
  t.note('the polling transport is gone');
  await call(t, P, { path: url });
  ws.send('41');
  await ws.expect(1);
  await ws.closed();
  t.check();
});

test('polling pings (--heartbeat-ms 1000): a held GET gets "2"; a silent session gets "1"', T, async () => {
  const gw = await gateway('hb.jsonl', SNAP, ['--no-tls', '--heartbeat-ms', '1000', '--stale-ms', '600000']);
  const t = new Transcript('polling_heartbeat');
  const sid = await open(t, gw);
  const url = `${BASE}&sid=${sid}`;
  await call(t, gw, { path: url });
  // No pong: the timeout (2 x 1000 ms without a POST) falls due no later than the second ping, and
  // the sweep checks it first, so the next GET gets the close packet, not another "2" (held, or
  // sent within the 1 s a closed session waits for its GET).
  t.note('no pong: the next GET gets the close packet');
  await call(t, gw, { path: url });
  t.check();
});
