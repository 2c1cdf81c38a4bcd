// Socket.IO v4 clients (npm socket.io-client 4.x) against the real gateway, with each transport
// setting a client can use: the default (long-polling, then the upgrade to WebSocket), polling only
// and WebSocket only; plus raw Engine.IO frames and polling requests for the failure paths a library
// client never produces.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import { startGateway, connectReady, httpGet, scrape, waitFor, delay, seqGaps } from './support/gateway.mjs';
import { assertGapFree, withoutEpochs } from './support/checks.mjs';

let gw;
// Two workers, so polling requests and upgrades cross from one worker's connections to the other's.
before(async () => { gw = await startGateway(['--symbols', '6', '--rate', '600', '--heartbeat-ms', '400'], { threads: 2 }); });
after(async () => {
  const exit = await gw?.stop();
  // Under ASan/UBSan a report ends the process with an error status, after every test passed.
  assert.equal(exit?.code, 0, `tickgate exit ${JSON.stringify(exit)}: ${gw?.stderr.split('\n').filter((l) => /Sanitizer|runtime error/.test(l)).join('\n')}`);
});

// transports option of each mode; `default` is socket.io-client's own (polling, then upgrade).
const MODES = {
  default: undefined,
  polling: ['polling'],
  websocket: ['websocket'],
};

function client(url = gw.httpsUrl, opts = {}, mode = 'websocket') {
  const transports = MODES[mode];
  return io(url, { rejectUnauthorized: false, reconnection: false, ...(transports ? { transports } : {}), ...opts });
}

const skippedBehind = async () => (await scrape(gw))['tickgate_updates_skipped_behind_total'] ?? 0;
/**
 * No seq gap, unless the gateway itself skipped superseded updates because a worker fell more than
 * 250 ms behind (its documented policy, seen on an overloaded shared machine): then the skip counter
 * must have risen since `skippedBefore`.
 */
async function assertNoGaps(updates, skippedBefore, what) {
  const last = new Map();
  for (const u of updates) {
    assert.ok(!(last.get(u.topic) >= u.seq), `${what}: ${u.topic} seq ${u.seq} after ${last.get(u.topic)} (repeated)`);
    last.set(u.topic, u.seq);
  }
  const gaps = seqGaps(updates);
  if (gaps.length === 0) return;
  assert.ok(await skippedBehind() > skippedBefore, `${what}: seq gaps the gateway did not skip on purpose: ${gaps}`);
}

/** Waits until the client runs on the transport its mode ends on. */
async function settled(s, mode) {
  const want = mode === 'polling' ? 'polling' : 'websocket';
  await waitFor(() => s.io.engine?.transport?.name === want, { what: `${mode} client on ${want}` });
}
function once(socket, event, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
    socket.once(event, (...args) => { clearTimeout(t); resolve(args); });
  });
}
function emitAck(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ack for ${event}`)), 5000);
    socket.emit(event, ...args, (reply) => { clearTimeout(t); resolve(reply); });
  });
}
function collect(socket, event) {
  const seen = [];
  socket.on(event, (m) => seen.push(m));
  return seen;
}

for (const mode of Object.keys(MODES)) test(`connects, gets the welcome event, subscribes with an ack, snapshots then live updates (${mode})`, async () => {
  const skipped = await skippedBehind();
  const s = client(undefined, {}, mode);
  const [welcome] = await once(s, 'welcome');
  assert.equal(welcome.type, 'welcome');
  assert.match(welcome.session, /^[0-9a-f]{16}$/);
  const tickers = collect(s, 'ticker');
  const reply = await emitAck(s, 'subscribe', ['ticker.BTC-USD', 'ticker.*']);
  assert.deepEqual(withoutEpochs(reply), { topics: ['ticker.BTC-USD', 'ticker.*'] });
  await waitFor(() => tickers.filter((u) => u.topic === 'ticker.BTC-USD').length >= 6, { timeoutMs: 8000, what: 'BTC updates' });
  const btc = tickers.filter((u) => u.topic === 'ticker.BTC-USD');
  assert.equal(btc[0].snapshot, true, 'snapshot first');
  for (let i = 1; i < btc.length; i++) assert.equal(btc[i].snapshot, false);
  await assertNoGaps(btc, skipped, 'BTC-USD');
  assert.match(btc[1].bid, /^\d+\.\d+$/, 'prices are decimal strings, as in v1');
  const topics = new Set(tickers.map((u) => u.topic));
  assert.equal(topics.size, 6, 'the pattern covers every ticker');
  await settled(s, mode);
  if (mode === 'default') assert.equal(s.io.engine.transport.name, 'websocket', 'upgraded from polling');
  s.close();
});

for (const mode of Object.keys(MODES)) test(`without an ack the server emits subscribed, unsubscribed and error events (${mode})`, async () => {
  const s = client(undefined, {}, mode);
  await once(s, 'welcome');
  s.emit('subscribe', 'ticker.ETH-USD');
  const [subscribed] = await once(s, 'subscribed');
  assert.deepEqual(subscribed.topics, ['ticker.ETH-USD']);
  s.emit('subscribe', ['bad topic']);
  const [error] = await once(s, 'error');
  assert.equal(error.code, 'bad_request');
  assert.deepEqual(error.topics, ['bad topic']);
  s.emit('unsubscribe', ['ticker.ETH-USD']);
  const [unsubscribed] = await once(s, 'unsubscribed');
  assert.deepEqual(unsubscribed.topics, ['ticker.ETH-USD']);
  s.close();
});

for (const mode of Object.keys(MODES)) test(`errors reach the ack; list and ping answer through their acks (${mode})`, async () => {
  const s = client(undefined, {}, mode);
  await once(s, 'welcome');
  assert.deepEqual(await emitAck(s, 'subscribe', ['ticker.NOPE-USD']),
    { error: { code: 'unknown_topic', message: 'no feed publishes this topic; see op list', topics: ['ticker.NOPE-USD'] } });
  const partial = await emitAck(s, 'subscribe', ['ticker.SOL-USD', 'x']);
  assert.deepEqual(partial.topics, ['ticker.SOL-USD']);
  assert.equal(partial.error.code, 'bad_request');
  assert.equal((await emitAck(s, 'subscribe', 42)).error.code, 'bad_request');
  const list = await emitAck(s, 'list');
  assert.equal(list.topics.length, 6);
  const pong = await emitAck(s, 'ping');
  assert.ok(Math.abs(pong.ts / 1e6 - Date.now()) < 5000);
  const unsub = await emitAck(s, 'unsubscribe', ['ticker.SOL-USD']);
  assert.deepEqual(unsub, { topics: ['ticker.SOL-USD'] });
  s.close();
});

for (const mode of Object.keys(MODES)) test(`send() carries a v1 request and gets v1 replies as message events; updates still come as ticker (${mode})`, async () => {
  const s = client(undefined, {}, mode);
  await once(s, 'welcome');
  const messages = collect(s, 'message');
  const tickers = collect(s, 'ticker');
  s.send({ op: 'subscribe', id: 'r1', topics: ['ticker.BTC-USD'] });
  await waitFor(() => messages.some((m) => m.type === 'subscribed'), { what: 'subscribed message' });
  assert.deepEqual(withoutEpochs(messages.find((m) => m.type === 'subscribed')), { type: 'subscribed', id: 'r1', topics: ['ticker.BTC-USD'] });
  s.send({ op: 'nope', id: 2 });
  await waitFor(() => messages.some((m) => m.type === 'error'), { what: 'error message' });
  assert.equal(messages.find((m) => m.type === 'error').id, 2);
  await waitFor(() => tickers.length >= 2, { what: 'ticker events' });
  assert.ok(tickers.every((u) => u.topic === 'ticker.BTC-USD'));
  s.close();
});

for (const mode of Object.keys(MODES)) test(`an unknown namespace gets CONNECT_ERROR (${mode})`, async () => {
  const s = client(gw.httpsUrl + '/admin', {}, mode);
  const [err] = await once(s, 'connect_error');
  assert.equal(err.message, 'Invalid namespace');
  s.close();
});

// Raw Engine.IO over WebSocket: what a misbehaving client sends.
function rawEio(onMessage) {
  const url = gw.wsUrl.replace(/\/ws$/, '/socket.io/?EIO=4&transport=websocket');
  const ws = new WebSocket(url, { rejectUnauthorized: false });
  const frames = [];
  ws.on('message', (d) => { frames.push(String(d)); onMessage?.(ws, String(d)); });
  const closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  return { ws, frames, closed, open: new Promise((r) => ws.once('open', r)) };
}

test('a malformed packet closes that connection, is counted, and other clients carry on', async () => {
  const good = client();
  await once(good, 'welcome');
  await emitAck(good, 'subscribe', ['ticker.BTC-USD']);
  const before = (await scrape(gw))['tickgate_socketio_malformed_packets_total'] ?? 0;
  const raw = rawEio();
  await raw.open;
  await waitFor(() => raw.frames.length >= 1, { what: 'open packet' });
  const open = JSON.parse(raw.frames[0].slice(1));
  assert.equal(raw.frames[0][0], '0');
  assert.deepEqual(open.upgrades, []);
  assert.equal(open.pingInterval, 400);
  raw.ws.send('40');
  await waitFor(() => raw.frames.some((f) => f.startsWith('40{')), { what: 'CONNECT reply' });
  raw.ws.send('42["subscribe"');  // truncated JSON
  const closed = await raw.closed;
  assert.equal(closed.code, 1002);
  await waitFor(async () => ((await scrape(gw))['tickgate_socketio_malformed_packets_total'] ?? 0) === before + 1,
    { what: 'malformed counted' });
  const tickers = collect(good, 'ticker');
  await waitFor(() => tickers.length >= 2, { what: 'good client still served' });
  assert.equal(tickers[1].seq, tickers[0].seq + 1);
  good.close();
});

test('a client that stops answering pings is closed; one that answers stays', async () => {
  const silent = rawEio();
  const answering = rawEio((ws, f) => { if (f === '2') ws.send('3'); });
  await Promise.all([silent.open, answering.open]);
  silent.ws.send('40');
  answering.ws.send('40');
  await waitFor(() => silent.frames.includes('2'), { what: 'server ping' });
  const t0 = Date.now();
  const closed = await silent.closed;
  assert.ok(Date.now() - t0 < 3000, 'closed within a few ping intervals');
  assert.equal(closed.code, 1001);
  assert.equal(closed.reason, 'heartbeat timeout');
  await delay(500);
  assert.equal(answering.ws.readyState, WebSocket.OPEN, 'the answering client is still connected');
  answering.ws.close();
});

test('a default client subscribed before the upgrade gets consecutive updates through it', async () => {
  const skipped = await skippedBehind();
  const s = client(undefined, {}, 'default');
  const seen = [];
  s.on('ticker', (u) => seen.push(u));
  s.on('connect', () => s.emit('subscribe', ['ticker.*']));
  await settled(s, 'default');
  const n = seen.length;
  await waitFor(() => seen.length >= n + 60, { timeoutMs: 8000, what: 'updates after the upgrade' });
  s.close();
  await assertNoGaps(seen.filter((u) => !u.snapshot), skipped, 'across the upgrade');
  assert.equal(new Set(seen.filter((u) => u.snapshot).map((u) => u.topic)).size, 6, 'one snapshot per topic');
});

// Raw long-polling requests: what a misbehaving or vanished client does.
const agent = new https.Agent({ rejectUnauthorized: false, keepAlive: false });

/** One Engine.IO polling request of `gw` (q: the query after transport=polling): {status, body}. */
function pollingRequest(gw, method, q, body) {
  return new Promise((resolve, reject) => {
    const r = https.request(`${gw.httpsUrl}/socket.io/?EIO=4&transport=polling${q}`, { method, agent }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: text }));
    });
    r.on('error', reject);
    if (body !== undefined) r.write(body);
    r.end();
  });
}
function poll(method, query, { body, headers = {}, timeoutMs = 5000 } = {}) {
  const url = new URL(`/socket.io/?EIO=4&transport=polling${query}`, gw.httpsUrl);
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, agent, headers, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, body: text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}
/** A polling session through CONNECT; returns its sid and the open packet. */
async function rawPolling() {
  const open = await poll('GET', '');
  assert.equal(open.status, 200);
  assert.equal(open.body[0], '0');
  const info = JSON.parse(open.body.slice(1));
  assert.equal((await poll('POST', `&sid=${info.sid}`, { body: '40' })).body, 'ok');
  const connected = await poll('GET', `&sid=${info.sid}`);
  assert.match(connected.body, /^40\{"sid":/);
  return info;
}

/** The ticker updates in a polling body or WebSocket frame. */
function tickersIn(packets) {
  return packets.filter((p) => p.startsWith('42["ticker",')).map((p) => JSON.parse(p.slice(2))[1]);
}

// Connections are spread over the two workers in turn: with one extra connection before the
// WebSocket, it lands on the other worker than without, so one of the two runs moves it to the
// worker that owns the polling session.
for (const extra of [0, 1]) test(`upgrade step by step: 2probe, 3probe, the held GET released, 5; updates continue on the WebSocket (${extra} extra connection)`, async () => {
  const skipped = await skippedBehind();
  const { sid } = await rawPolling();
  assert.equal((await poll('POST', `&sid=${sid}`, { body: '42["subscribe",["ticker.*"]]' })).body, 'ok');
  const viaPolling = [];
  for (let i = 0; i < 5; i++) viaPolling.push(...tickersIn((await poll('GET', `&sid=${sid}`)).body.split('\x1e')));
  const held = poll('GET', `&sid=${sid}`);
  if (extra) assert.equal((await httpGet(gw.httpsUrl + '/healthz')).status, 200);
  const url = gw.wsUrl.replace(/\/ws$/, `/socket.io/?EIO=4&transport=websocket&sid=${sid}`);
  const ws = new WebSocket(url, { rejectUnauthorized: false });
  const frames = [];
  ws.on('message', (d) => {
    frames.push(String(d));
    if (String(d) === '2') ws.send('3');
  });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  ws.send('2probe');
  await waitFor(() => frames.length > 0, { what: '3probe' });
  assert.equal(frames[0], '3probe', 'the probe is answered first, and alone');
  const released = await held;
  viaPolling.push(...tickersIn(released.body.split('\x1e')));
  // While upgrading, a GET is answered at once: with what is queued, or a noop.
  const during = await poll('GET', `&sid=${sid}`, { timeoutMs: 300 });
  assert.equal(during.status, 200);
  viaPolling.push(...tickersIn(during.body.split('\x1e')));
  frames.length = 0;
  ws.send('5');
  await waitFor(() => tickersIn(frames).length >= 30, { what: 'updates over the WebSocket' });
  const after = await poll('GET', `&sid=${sid}`);
  assert.equal(after.status, 400, 'the polling transport is gone after the upgrade');
  ws.close();
  const viaWs = tickersIn(frames);
  assert.ok(viaPolling.filter((u) => !u.snapshot).length > 0, 'updates came over polling first');
  assert.ok(viaWs.every((u) => !u.snapshot), 'no snapshot is sent again');
  const all = [...viaPolling, ...viaWs].filter((u) => !u.snapshot);
  const seqs = all.map((u) => `${u.topic}#${u.seq}`);
  assert.equal(new Set(seqs).size, seqs.length, 'nothing repeated across the switch');
  await assertNoGaps(all, skipped, 'nothing lost across the switch');
});

test('an upgrade WebSocket accepted by another worker was moved to the session\'s worker', () => {
  assert.match(gw.stderr, /upgrade connection moved from worker \d+ to worker \d+\n/);
});

test('polling handshake: open packet offering the upgrade; errors are HTTP 400 with engine.io\'s JSON', async () => {
  const info = await rawPolling();
  assert.deepEqual(info.upgrades, ['websocket']);
  assert.equal(info.pingInterval, 400);
  assert.equal(info.pingTimeout, 400);
  assert.equal(info.maxPayload, 4096);
  const unknown = await poll('GET', '&sid=AAAAAAAAAAAAAAAA');
  assert.equal(unknown.status, 400);
  assert.deepEqual(unknown.json, { code: 1, message: 'Session ID unknown' });
  const post = await poll('POST', '', { body: '40' });
  assert.equal(post.status, 400);
  assert.deepEqual(post.json, { code: 2, message: 'Bad handshake method' });
  const old = await httpGet(gw.httpsUrl + '/socket.io/?EIO=3&transport=polling');
  assert.equal(old.status, 400, 'Engine.IO v3 (socket.io-client 2.x) is refused');
  assert.deepEqual(old.json, { code: 5, message: 'Unsupported protocol version' });
  const transport = await httpGet(gw.httpsUrl + '/socket.io/?EIO=4&transport=carrier-pigeon');
  assert.deepEqual(transport.json, { code: 0, message: 'Transport unknown' });
});

for (const [what, body] of [['an empty packet', ''], ['an unknown packet type', '9'], ['a trailing separator', '3\x1e'],
  ['bad base64', 'b!!!'], ['a body over maxPayload', '4' + 'x'.repeat(5000)]]) {
  test(`a POST with ${what} is refused and ends the session; the held GET gets the close packet`, async () => {
    const before = (await scrape(gw))['tickgate_socketio_malformed_packets_total'] ?? 0;
    const { sid } = await rawPolling();
    const held = poll('GET', `&sid=${sid}`);
    await delay(50);
    const bad = await poll('POST', `&sid=${sid}`, { body });
    if (body.length > 4096) {
      assert.equal(bad.status, 413);
    } else {
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.json, { code: 3, message: 'Bad request' });
      await waitFor(async () => ((await scrape(gw))['tickgate_socketio_malformed_packets_total'] ?? 0) > before,
        { what: 'malformed counted' });
    }
    const last = await held;
    assert.equal(last.status, 200);
    assert.match(last.body, /(^|\x1e)1$/, 'the held GET ends with the close packet');
    assert.equal((await poll('GET', `&sid=${sid}`)).status, 400, 'the sid is gone');
  });
}

test('a second GET while one is held gets 400 and the session closes', async () => {
  const { sid } = await rawPolling();
  const first = poll('GET', `&sid=${sid}`);
  await delay(50);
  const second = await poll('GET', `&sid=${sid}`);
  assert.equal(second.status, 400);
  assert.deepEqual(second.json, { code: 3, message: 'Bad request' });
  assert.match((await first).body, /(^|\x1e)1$/);
  const after = await poll('POST', `&sid=${sid}`, { body: '3' });
  assert.equal(after.status, 400);
  assert.deepEqual(after.json, { code: 1, message: 'Session ID unknown' });
});

test('a close packet over polling ends the session at once; the held GET returns', async () => {
  const { sid } = await rawPolling();
  const held = poll('GET', `&sid=${sid}`);
  await delay(50);
  assert.equal((await poll('POST', `&sid=${sid}`, { body: '41\x1e1' })).status, 200);
  assert.match((await held).body, /(^|\x1e)1$/);
  assert.equal((await poll('GET', `&sid=${sid}`)).status, 400);
});

test('over polling the server pings; a client that never pongs is closed, one that pongs stays', async () => {
  const silent = await rawPolling();
  const answering = await rawPolling();
  const stop = { done: false };
  const pong = (async () => {
    while (!stop.done) {
      const r = await poll('GET', `&sid=${answering.sid}`);
      if (r.status !== 200) return `status ${r.status}`;
      if (r.body.split('\x1e').includes('2')) await poll('POST', `&sid=${answering.sid}`, { body: '3' });
      if (r.body.split('\x1e').includes('1')) return 'closed';
    }
    return 'ok';
  })();
  const t0 = Date.now();
  const bodies = [];
  for (let i = 0; i < 20; i++) {
    const r = await poll('GET', `&sid=${silent.sid}`);
    if (r.status !== 200) { bodies.push(`HTTP ${r.status}`); break; }
    bodies.push(r.body);
    if (r.body.split('\x1e').includes('1')) break;
  }
  assert.ok(bodies.includes('2'), `the server pinged (${bodies})`);
  assert.ok(/(^|\x1e)1$/.test(bodies.at(-1)) || bodies.at(-1) === 'HTTP 400', `then closed (${bodies})`);
  assert.ok(Date.now() - t0 < 3000, 'within pingInterval + pingTimeout and a sweep');
  await delay(500);
  stop.done = true;
  assert.equal(await pong, 'ok', 'the client that pongs is still served');
});

test('a polling client that stops fetching holds a bounded queue: past half of it, updates are conflated', async () => {
  const own = await startGateway(['--symbols', '6', '--rate', '3000', '--max-queue-bytes', '8192']);
  const req = (method, q, body) => pollingRequest(own, method, q, body);
  try {
    const sid = JSON.parse((await req('GET', '')).body.slice(1)).sid;
    await req('POST', `&sid=${sid}`, '40');
    await req('GET', `&sid=${sid}`);
    const before = (await scrape(own))['tickgate_messages_conflated_total'] ?? 0;
    await req('POST', `&sid=${sid}`, '42["subscribe",["ticker.*"]]');
    // No GET for a while: at 3,000 updates/s the 8 KiB queue passes half and conflates.
    await waitFor(async () => ((await scrape(own))['tickgate_messages_conflated_total'] ?? 0) > before,
      { what: 'conflation' });
    const got = await req('GET', `&sid=${sid}`);
    assert.equal(got.status, 200);
    assert.ok(got.body.length <= 8192, `one response holds at most the queue bound (${got.body.length} bytes)`);
    const updates = tickersIn(got.body.split('\x1e')).filter((u) => !u.snapshot);
    assert.ok(updates.length > 0);
    const last = new Map();
    for (const u of updates) {
      assert.ok(!(last.get(u.topic) >= u.seq), 'still in seq order per topic');
      last.set(u.topic, u.seq);
    }
    assert.equal((await req('GET', `&sid=${sid}`)).status, 200, 'the session goes on');
  } finally {
    await own.stop();
  }
});

test('a polling client that posts pongs but never fetches is closed as a slow consumer after --slow-timeout-ms; a witness loses nothing', async () => {
  const own = await startGateway(['--symbols', '3', '--rate', '300', '--slow-timeout-ms', '1000']);
  const req = (method, q, body) => pollingRequest(own, method, q, body);
  const witness = await connectReady(own.wsUrl, { label: 'witness' });
  try {
    await witness.request({ op: 'subscribe', id: 1, topics: ['ticker.BTC-USD'] }, 'subscribed');
    const before = (await scrape(own)).tickgate_slow_consumer_disconnects_total ?? 0;
    const sid = JSON.parse((await req('GET', '')).body.slice(1)).sid;
    await req('POST', `&sid=${sid}`, '40');
    await req('GET', `&sid=${sid}`);
    await req('POST', `&sid=${sid}`, '42["subscribe",["ticker.*"]]');
    // Never another GET; a pong every 200 ms keeps it from looking silent.
    const t0 = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - t0 < 6000) {
      await delay(200);
      status = (await req('POST', `&sid=${sid}`, '3')).status;
    }
    const after = (await scrape(own)).tickgate_slow_consumer_disconnects_total ?? 0;
    assert.equal(status, 400, `the session was still served ${Date.now() - t0} ms later`);
    assert.equal(after - before, 1, 'closed as a slow consumer');
    // 1 s of backlog, a sweep, the 1 s grace for a GET to carry the close packet.
    assert.ok(Date.now() - t0 < 4000, `closed after ${Date.now() - t0} ms`);
    await delay(300);
    const live = witness.messages.filter((m) => m.topic === 'ticker.BTC-USD' && m.snapshot === false);
    assert.ok(live.length > 100, `witness got ${live.length} updates`);
    assertGapFree(live, 'witness');
  } finally {
    await witness.close();
    await own.stop();
  }
});

test('CORS: an allowed origin gets its headers (preflight too), another origin gets 403', async () => {
  const own = await startGateway(['--symbols', '2', '--allowed-origins', 'https://app.example']);
  const url = (q) => `${own.httpsUrl}/socket.io/?EIO=4&transport=polling${q}`;
  const req = (method, q, headers) => new Promise((resolve, reject) => {
    https.request(url(q), { method, agent, headers }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    }).on('error', reject).end();
  });
  try {
    const ok = await req('GET', '', { Origin: 'https://app.example' });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['access-control-allow-origin'], 'https://app.example');
    assert.equal(ok.headers['access-control-allow-credentials'], 'true');
    const pre = await req('OPTIONS', '', { Origin: 'https://app.example', 'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'content-type' });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example');
    assert.match(pre.headers['access-control-allow-methods'], /POST/);
    assert.equal(pre.headers['access-control-allow-headers'], 'content-type');
    const bad = await req('GET', '', { Origin: 'https://evil.example' });
    assert.equal(bad.status, 403);
    assert.equal(bad.headers['access-control-allow-origin'], undefined);
    assert.deepEqual(JSON.parse(bad.body), { code: 4, message: 'Forbidden' });
    const badPre = await req('OPTIONS', '', { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' });
    assert.equal(badPre.status, 403);
    const none = await req('GET', '', {});
    assert.equal(none.status, 200, 'non-browser clients send no Origin and are served');
    assert.equal(none.headers['access-control-allow-origin'], undefined);
  } finally {
    await own.stop();
  }
});

test('clients on every transport lose nothing while polling and WebSocket clients misbehave', async () => {
  const skipped = await skippedBehind();
  const good = Object.keys(MODES).map((mode) => {
    const s = client(undefined, {}, mode);
    const seen = [];
    s.on('ticker', (u) => { if (!u.snapshot) seen.push(u); });
    s.on('connect', () => s.emit('subscribe', ['ticker.BTC-USD', 'ticker.ETH-USD']));
    return { mode, s, seen };
  });
  await waitFor(() => good.every((g) => g.seen.length >= 10), { timeoutMs: 8000, what: 'good clients served' });
  // Misbehaving: overlapping GETs, garbage bodies, bad Socket.IO packets, a silent WebSocket.
  const bad = [];
  for (let i = 0; i < 4; i++) {
    const { sid } = await rawPolling();
    bad.push(poll('GET', `&sid=${sid}`).catch(() => null), poll('GET', `&sid=${sid}`).catch(() => null));
    const other = await rawPolling();
    bad.push(poll('POST', `&sid=${other.sid}`, { body: '42["subscribe"' }).catch(() => null));
    bad.push(poll('POST', `&sid=${other.sid}`, { body: '\x1e\x1e' }).catch(() => null));
  }
  const raw = rawEio();
  await raw.open;
  raw.ws.send('40');
  raw.ws.send('4\xff');
  await Promise.all(bad);
  const counts = good.map((g) => g.seen.length);
  await waitFor(() => good.every((g, i) => g.seen.length >= counts[i] + 20), { timeoutMs: 8000, what: 'still served' });
  for (const g of good) {
    g.s.close();
    await assertNoGaps(g.seen, skipped, g.mode);
  }
});

for (const mode of ['default', 'websocket']) test(`the client reconnects after a gateway restart and gets updates again (${mode})`, async () => {
  const port = new URL(gw.httpsUrl).port;
  const own = await startGateway(['--symbols', '3', '--rate', '300']);
  const url = own.httpsUrl;
  const ownPort = new URL(url).port;
  const s = io(url, { rejectUnauthorized: false, ...(MODES[mode] ? { transports: MODES[mode] } : {}), reconnectionDelay: 100, reconnectionDelayMax: 300 });
  await once(s, 'welcome');
  await own.stop();
  // Listening for the next welcome before the restart: the client retries every 100-300 ms, so it
  // can connect and be welcomed before startGateway has read the new gateway's listening line
  // (a listener added after that waited out its 10 s, once in a CI run).
  const welcomedAgain = once(s, 'welcome', 15000);
  welcomedAgain.catch(() => {});  // a failed start below is the error to report, not this
  const restarted = await startGateway(['--symbols', '3', '--rate', '300', '--listen', `127.0.0.1:${ownPort}`]);
  try {
    await welcomedAgain;
    const tickers = collect(s, 'ticker');
    await emitAck(s, 'subscribe', ['ticker.*']);
    await waitFor(() => tickers.length >= 3, { what: 'updates after reconnect' });
    await settled(s, mode);
  } finally {
    s.close();
    await restarted.stop();
  }
  assert.notEqual(port, ownPort);
});
