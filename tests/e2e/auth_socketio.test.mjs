// JWT access control with the stock socket.io-client: the token in io(url, {auth: {token}}),
// which arrives in the CONNECT packet, over the default transports (long-polling, then the
// upgrade) and WebSocket only; CONNECT_ERROR for a bad or missing token; entitlements in acks;
// emit('refresh', token, ack); expiry as a server disconnect.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { startGateway, tempDir } from './support/gateway.mjs';
import { claims, ecKeys, es256, hs256, nowS, stopChecked, writeKey } from './support/jwt.mjs';
import { withoutEpochs } from './support/checks.mjs';

const T = { timeout: 20000 };
let gw;
let dir;
const key = ecKeys();
const sockets = [];

before(async () => {
  dir = tempDir('tickgate-auth-sio-');
  gw = await startGateway(['--symbols', '3', '--jwt-public-key-file', writeKey(dir.dir, 'k.pem', key.publicPem)],
    { threads: 2 });
});
after(async () => {
  for (const s of sockets) s.close();
  await stopChecked(gw);
  dir?.cleanup();
});

function client(token, transports) {
  const s = io(gw.httpsUrl, {
    rejectUnauthorized: false, reconnection: false, ...(transports ? { transports } : {}),
    ...(token !== undefined ? { auth: { token } } : {}),
  });
  sockets.push(s);
  return s;
}
const connected = (s) => new Promise((resolve, reject) => {
  s.once('connect', resolve);
  s.once('connect_error', reject);
});
const refused = (s) => new Promise((resolve, reject) => {
  s.once('connect', () => reject(new Error('connected with a bad token')));
  s.once('connect_error', resolve);
});
const ack = (s, event, arg) => new Promise((resolve) => s.emit(event, arg, resolve));

for (const [mode, transports] of [['default transports (polling, then upgrade)', undefined], ['websocket only', ['websocket']]]) {
  test(`${mode}: a good token connects; entitlements come back in the acks`, T, async () => {
    const exp = nowS() + 600;
    const s = client(es256(key.privateKey, claims({ sub: 'sio-user', exp, topics: ['ticker.BTC-USD'] })), transports);
    const authenticated = new Promise((resolve) => s.once('authenticated', resolve));
    await connected(s);
    assert.deepEqual(await authenticated, { type: 'authenticated', sub: 'sio-user', expires_at: exp * 1e9 });
    assert.deepEqual(withoutEpochs(await ack(s, 'subscribe', ['ticker.BTC-USD'])), { topics: ['ticker.BTC-USD'] });
    const update = await new Promise((resolve) => s.once('ticker', resolve));
    assert.equal(update.topic, 'ticker.BTC-USD');
    const denied = await ack(s, 'subscribe', ['ticker.*']);
    assert.equal(denied.error?.code, 'forbidden', JSON.stringify(denied));
    assert.deepEqual(denied.error?.topics, ['ticker.*']);
    assert.deepEqual(await ack(s, 'list'), { topics: ['ticker.BTC-USD'] });
  });

  test(`${mode}: a bad or missing token gets connect_error "invalid_token"`, T, async () => {
    for (const token of [es256(ecKeys().privateKey, claims()), hs256(key.publicPem, claims()), 'garbage', undefined]) {
      const err = await refused(client(token, transports));
      assert.equal(err.message, 'invalid_token');
    }
  });
}

test('emit("refresh", token, ack): same sub extends the session; another sub is forbidden', T, async () => {
  const s = client(es256(key.privateKey, claims({ sub: 'sio-refresh', exp: nowS() + 60 })), ['websocket']);
  await connected(s);
  const exp = nowS() + 900;
  assert.deepEqual(await ack(s, 'refresh', es256(key.privateKey, claims({ sub: 'sio-refresh', exp }))),
    { sub: 'sio-refresh', expires_at: exp * 1e9 });
  const other = await ack(s, 'refresh', es256(key.privateKey, claims({ sub: 'mallory' })));
  assert.equal(other.error?.code, 'forbidden', JSON.stringify(other));
  assert.ok(s.connected);
});

test('expiry: token_expiring, then a server disconnect', T, async () => {
  const exp = nowS() + 2;
  const s = client(es256(key.privateKey, claims({ sub: 'sio-expiry', exp })));
  const expiring = new Promise((resolve) => s.once('token_expiring', resolve));
  const disconnected = new Promise((resolve) => s.once('disconnect', resolve));
  await connected(s);
  assert.equal((await expiring).expires_at, exp * 1e9);
  assert.equal(await disconnected, 'io server disconnect');
  assert.ok(Date.now() >= exp * 1000 - 50);
});

test('--max-connections-per-user: a CONNECT past the limit gets connect_error "too many connections"', T, async () => {
  const limited = await startGateway(['--symbols', '2', '--max-connections-per-user', '1',
    '--jwt-public-key-file', writeKey(dir.dir, 'limited.pem', key.publicPem)]);
  const open = (sub) => {
    const s = io(limited.httpsUrl, { rejectUnauthorized: false, reconnection: false, transports: ['websocket'],
      auth: { token: es256(key.privateKey, claims({ sub })) } });
    sockets.push(s);
    return s;
  };
  try {
    const first = open('one-seat');
    await connected(first);
    const err = await refused(open('one-seat'));
    assert.equal(err.message, 'too many connections');
    await connected(open('someone-else'));
    first.close();
    let again;
    for (let i = 0; i < 20; ++i) {
      again = open('one-seat');
      try { await connected(again); break; } catch { again = undefined; await new Promise((r) => setTimeout(r, 50)); }
    }
    assert.ok(again?.connected, 'the seat is free again once the first connection closed');
  } finally {
    await stopChecked(limited);
  }
});
