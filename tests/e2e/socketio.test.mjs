// Socket.IO v4 clients (npm socket.io-client 4.x) against the real gateway, over the WebSocket
// transport, plus raw Engine.IO frames for the failure paths a library client never produces.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import { startGateway, httpGet, scrape, waitFor, delay } from './support/gateway.mjs';

let gw;
before(async () => { gw = await startGateway(['--symbols', '6', '--rate', '600', '--heartbeat-ms', '400']); });
after(async () => { await gw?.stop(); });

function client(url = gw.httpsUrl, opts = {}) {
  return io(url, { rejectUnauthorized: false, transports: ['websocket'], reconnection: false, ...opts });
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

test('connects, gets the welcome event, subscribes with an ack, snapshots then live updates', async () => {
  const s = client();
  const [welcome] = await once(s, 'welcome');
  assert.equal(welcome.type, 'welcome');
  assert.match(welcome.session, /^[0-9a-f]{16}$/);
  const tickers = collect(s, 'ticker');
  const reply = await emitAck(s, 'subscribe', ['ticker.BTC-USD', 'ticker.*']);
  assert.deepEqual(reply, { topics: ['ticker.BTC-USD', 'ticker.*'] });
  await waitFor(() => tickers.filter((u) => u.topic === 'ticker.BTC-USD').length >= 6, { timeoutMs: 8000, what: 'BTC updates' });
  const btc = tickers.filter((u) => u.topic === 'ticker.BTC-USD');
  assert.equal(btc[0].snapshot, true, 'snapshot first');
  for (let i = 1; i < btc.length; i++) {
    assert.equal(btc[i].snapshot, false);
    assert.equal(btc[i].seq, btc[i - 1].seq + 1, 'seq rises by one');
  }
  assert.match(btc[1].bid, /^\d+\.\d+$/, 'prices are decimal strings, as in v1');
  const topics = new Set(tickers.map((u) => u.topic));
  assert.equal(topics.size, 6, 'the pattern covers every ticker');
  s.close();
});

test('without an ack the server emits subscribed, unsubscribed and error events', async () => {
  const s = client();
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

test('errors reach the ack; list and ping answer through their acks', async () => {
  const s = client();
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

test('send() carries a v1 request and gets v1 replies as message events; updates still come as ticker', async () => {
  const s = client();
  await once(s, 'welcome');
  const messages = collect(s, 'message');
  const tickers = collect(s, 'ticker');
  s.send({ op: 'subscribe', id: 'r1', topics: ['ticker.BTC-USD'] });
  await waitFor(() => messages.some((m) => m.type === 'subscribed'), { what: 'subscribed message' });
  assert.deepEqual(messages.find((m) => m.type === 'subscribed'), { type: 'subscribed', id: 'r1', topics: ['ticker.BTC-USD'] });
  s.send({ op: 'nope', id: 2 });
  await waitFor(() => messages.some((m) => m.type === 'error'), { what: 'error message' });
  assert.equal(messages.find((m) => m.type === 'error').id, 2);
  await waitFor(() => tickers.length >= 2, { what: 'ticker events' });
  assert.ok(tickers.every((u) => u.topic === 'ticker.BTC-USD'));
  s.close();
});

test('an unknown namespace gets CONNECT_ERROR', async () => {
  const s = client(gw.httpsUrl + '/admin');
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

test('long-polling is refused with HTTP 400 naming the WebSocket transport', async () => {
  const res = await httpGet(gw.httpsUrl + '/socket.io/?EIO=4&transport=polling');
  assert.equal(res.status, 400);
  assert.match(res.json.message, /WebSocket only/);
  const old = await httpGet(gw.httpsUrl + '/socket.io/?EIO=3&transport=websocket');
  assert.equal(old.status, 400, 'Engine.IO v3 (socket.io-client 2.x) is refused');
});

test('the client reconnects after a gateway restart and gets updates again', async () => {
  const port = new URL(gw.httpsUrl).port;
  const own = await startGateway(['--symbols', '3', '--rate', '300']);
  const url = own.httpsUrl;
  const ownPort = new URL(url).port;
  const s = io(url, { rejectUnauthorized: false, transports: ['websocket'], reconnectionDelay: 100, reconnectionDelayMax: 300 });
  await once(s, 'welcome');
  await own.stop();
  const restarted = await startGateway(['--symbols', '3', '--rate', '300', '--listen', `127.0.0.1:${ownPort}`]);
  try {
    await once(s, 'welcome', 10000);
    const tickers = collect(s, 'ticker');
    await emitAck(s, 'subscribe', ['ticker.*']);
    await waitFor(() => tickers.length >= 3, { what: 'updates after reconnect' });
  } finally {
    s.close();
    await restarted.stop();
  }
  assert.notEqual(port, ownPort);
});
