// The operator API (README.md "Operator API", issue 16) against the real binary: refused at start
// without a usable key; 401 without the right key; 400 with a reason for bad bodies, on a kept-alive
// connection that goes on serving; broadcasts reaching v1 (npm ws) and Socket.IO (socket.io-client,
// WebSocket and long-polling) clients, to everyone or to a topic's subscribers; event names that
// are reserved or an existing channel refused; disconnect by session and by user (tokens with the
// same sub) with the close code the client sees; connections paged one at a time, each session
// seen once; TLS on the admin port; the log and /metrics.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { io } from 'socket.io-client';
import { BIN, connectReady, delay, scrape, startGateway, tempDir, waitFor } from './support/gateway.mjs';
import { claims, hs256, stopChecked } from './support/jwt.mjs';
import { withoutEpochs } from './support/checks.mjs';

const T = { timeout: 30000 };
const KEY = 'e2e-operator-key-0123456789abcdef';
const SECRET = 'an-hs256-secret-of-at-least-32-bytes!!';

/** The admin API's base URL, from the gateway's log line "admin API on http(s)://HOST:PORT/api/". */
async function adminUrl(gw) {
  const m = await waitFor(() => gw.stderr.match(/admin API on (https?:\/\/[^\s/]+:\d+)\/api\//), { what: 'the admin API line' });
  return m[1];
}

/**
 * One API call. Resolves {status, headers, json, body, localPort}. `key` null sends no
 * Authorization; `agent` lets calls share a kept-alive connection.
 */
function call(base, method, p, { body, key = KEY, agent, raw } = {}) {
  const mod = base.startsWith('https:') ? https : http;
  const data = raw ?? (body === undefined ? undefined : JSON.stringify(body));
  const headers = {};
  if (key !== null) headers.Authorization = `Bearer ${key}`;
  if (data !== undefined) headers['Content-Type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const req = mod.request(`${base}${p}`, { method, headers, agent: agent ?? false, rejectUnauthorized: false, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, statusMessage: res.statusMessage, headers: res.headers, body: text, json, localPort: req.socket?.localPort });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${p} timed out`)));
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

/** Runs the binary with `args` until it exits; resolves {code, stderr}. */
function runToExit(args, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const proc = spawn(BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`still running after ${timeoutMs} ms: ${stderr}`)); }, timeoutMs);
    proc.on('exit', (code) => { clearTimeout(timer); resolve({ code, stderr }); });
  });
}

function sio(base, transports = ['websocket'], opts = {}) {
  const socket = io(base, { rejectUnauthorized: false, reconnection: false, transports, ...opts });
  const got = { announcements: [], welcome: null, disconnects: [] };
  socket.on('welcome', (w) => { got.welcome = w; });
  socket.on('disconnect', (reason) => got.disconnects.push(reason));
  return { socket, got };
}

describe('refused at start', () => {
  test('--admin-listen without a usable key file exits 2 saying why', T, async () => {
    const dir = tempDir('tickgate-admin-start-');
    try {
      const base = ['--listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0', '--state-dir', dir.dir,
        '--admin-listen', '127.0.0.1:0'];
      let r = await runToExit(base);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /--admin-listen needs --admin-key-file/);
      r = await runToExit([...base, '--admin-key-file', path.join(dir.dir, 'missing.key')]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /--admin-key-file: cannot read .*missing\.key: No such file or directory/);
      const empty = path.join(dir.dir, 'empty.key');
      writeFileSync(empty, '\n');
      r = await runToExit([...base, '--admin-key-file', empty]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /empty\.key is empty/);
      // The key flags without the API are a mistake too.
      r = await runToExit(['--admin-key-file', empty]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /--admin-key-file and --admin-tls need --admin-listen/);
      // An address other than loopback needs TLS (--admin-tls auto): with --no-tls there is no
      // certificate for it, and the gateway says so before it binds anything there.
      const key = path.join(dir.dir, 'good.key');
      writeFileSync(key, KEY);
      r = await runToExit(['--listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0', '--state-dir', dir.dir, '--no-tls',
        '--admin-listen', '0.0.0.0:0', '--admin-key-file', key]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /--admin-listen 0\.0\.0\.0 is not a loopback address, so the admin API needs TLS, and --no-tls loads no certificate/);
    } finally {
      dir.cleanup();
    }
  });
});

describe('the operator API', () => {
  let gw;
  let api;
  let dir;
  let keyFile;
  const clients = [];
  const sockets = [];
  const v1 = async (query = '') => {
    const c = await connectReady(`${gw.wsUrl}${query}`);
    clients.push(c);
    c.session = c.messages.find((m) => m.type === 'welcome').session;
    return c;
  };
  const socketio = async (transports, opts) => {
    const s = sio(gw.httpsUrl, transports, opts);
    sockets.push(s.socket);
    await waitFor(() => s.socket.connected && s.got.welcome, { what: 'a Socket.IO connection and its welcome' });
    return s;
  };
  /** Waits until the gateway lists exactly `n` sessions (closed clients are gone). */
  const sessionsAre = (n) => waitFor(async () => (await call(api, 'GET', '/api/connections')).json?.totals.sessions === n,
    { what: `${n} sessions` });
  const closeAll = async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    for (const s of sockets.splice(0)) s.disconnect();
    await sessionsAre(0);
  };

  before(async () => {
    dir = tempDir('tickgate-admin-');
    keyFile = path.join(dir.dir, 'admin.key');
    writeFileSync(keyFile, `${KEY}\n`);
    const secret = path.join(dir.dir, 'jwt.secret');
    writeFileSync(secret, SECRET);
    gw = await startGateway(['--symbols', '3', '--jwt-secret-file', secret, '--anonymous-topics', '*.*',
      '--admin-listen', '127.0.0.1:0', '--admin-key-file', keyFile], { threads: 2 });
    api = await adminUrl(gw);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    for (const s of sockets) s.disconnect();
    await stopChecked(gw);
    // Never the key, in any line.
    assert.ok(!gw.stderr.includes(KEY), 'the key is in the log');
    dir?.cleanup();
  });

  test('loopback with --admin-tls auto is plain HTTP', T, async () => {
    assert.match(api, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  test('no key or a wrong key gets 401, whatever the path', T, async () => {
    for (const p of ['/api/connections', '/api/nothing']) {
      const none = await call(api, 'GET', p, { key: null });
      assert.equal(none.status, 401, none.body);
      assert.deepEqual(none.json, { error: 'unauthorized', message: 'missing Authorization: Bearer <key>' });
      assert.match(none.headers['www-authenticate'], /^Bearer/);
      const wrong = await call(api, 'GET', p, { key: `${KEY}x` });
      assert.equal(wrong.status, 401, wrong.body);
      assert.equal(wrong.json.message, 'wrong key');
    }
    const post = await call(api, 'POST', '/api/broadcast', { key: 'guess', body: { event: 'x', data: 1 } });
    assert.equal(post.status, 401);
    assert.equal((await call(api, 'GET', '/api/nothing')).status, 404);
    assert.equal((await call(api, 'GET', '/api/broadcast')).status, 405);
  });

  test('bad bodies get 400 with the reason, and the kept-alive connection goes on serving', T, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const cases = [
        ['{"event":', /^malformed JSON: /],
        ['[1,2]', /^the body must be a JSON object$/],
        [JSON.stringify({ data: {} }), /^field 'event' is required$/],
        [JSON.stringify({ event: 'news' }), /^field 'data' is required/],
        [JSON.stringify({ event: 'news', data: 1, topic: 5 }), /^field 'topic' must be a string, not a number$/],
        // 33 levels: the body's object and 32 arrays in it.
        [`{"event":"news","data":${'['.repeat(32)}${']'.repeat(32)}}`, /^JSON nested deeper than 32 levels$/],
      ];
      const ports = new Set();
      for (const [raw, reason] of cases) {
        const r = await call(api, 'POST', '/api/broadcast', { raw, agent });
        assert.equal(r.status, 400, `${raw}: ${r.body}`);
        assert.equal(r.json.error, 'bad_request');
        assert.match(r.json.message, reason, raw);
        ports.add(r.localPort);
      }
      const disconnectCases = [
        [{}, /^give exactly one of 'session' and 'user'$/],
        [{ user: 'x', code: 1000 }, /^field 'code' must be an integer from 4000 to 4999$/],
        [{ user: 'x', reason: 'r'.repeat(124) }, /^field 'reason' must be at most 123 bytes/],
      ];
      for (const [body, reason] of disconnectCases) {
        const r = await call(api, 'POST', '/api/disconnect', { body, agent });
        assert.equal(r.status, 400, r.body);
        assert.match(r.json.message, reason);
        ports.add(r.localPort);
      }
      const limit = await call(api, 'GET', '/api/connections?limit=1001', { agent });
      assert.equal(limit.status, 400);
      assert.equal(limit.json.message, 'limit must be an integer from 1 to 1000');
      // 32 levels are fine, on the same connection.
      const ok = await call(api, 'POST', '/api/broadcast', { raw: `{"event":"news","data":${'['.repeat(31)}${']'.repeat(31)}}`, agent });
      assert.equal(ok.status, 200, ok.body);
      ports.add(limit.localPort).add(ok.localPort);
      assert.equal(ports.size, 1, `one connection for every call: ${[...ports]}`);
      // Over 64 KiB: 413, and that connection is closed.
      const big = await call(api, 'POST', '/api/broadcast', { raw: JSON.stringify({ event: 'news', data: 'x'.repeat(70000) }) });
      assert.equal(big.status, 413, big.body);
      assert.equal(big.json.error, 'payload_too_large');
    } finally {
      agent.destroy();
    }
  });

  test('a broadcast reaches a v1 client and a Socket.IO client: delivered 2', T, async () => {
    await closeAll();
    const ws = await v1();
    const s = await socketio(['websocket']);
    const announced = new Promise((resolve) => s.socket.once('announcement', resolve));
    const data = { text: 'maintenance at 22:00', minutes: 15, exact: 1.50 };
    const before = Date.now() * 1e6;
    const r = await call(api, 'POST', '/api/broadcast', { raw: `{"event":"announcement","data":{"text":"maintenance at 22:00","minutes":15,"exact":1.50}}` });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(r.json, { delivered: 2 });
    const m = await ws.next('broadcast');
    assert.deepEqual(Object.keys(m), ['type', 'event', 'ts', 'data']);
    assert.equal(m.event, 'announcement');
    assert.deepEqual(m.data, { ...data, exact: 1.5 });
    assert.ok(m.ts >= before - 1e9 && m.ts <= Date.now() * 1e6 + 1e9, `ts ${m.ts}`);
    // The data goes out as it came: 1.50 is not rewritten.
    assert.ok(ws.raw.some((t) => t.includes('"exact":1.50}')), ws.lastText());
    assert.deepEqual(await announced, { ...data, exact: 1.5 });
    // The live stream is untouched: updates keep coming on the same connection.
    await ws.request({ op: 'subscribe', id: 1, topics: ['ticker.BTC-USD'] }, 'subscribed');
    await ws.next((u) => u.topic === 'ticker.BTC-USD');
    assert.match(gw.stderr, /admin POST \/api\/broadcast from 127\.0\.0\.1:\d+: 200, broadcast 'announcement' \(\d+ bytes of data\) to every client: delivered to 2/);
  });

  test('a broadcast to a topic reaches only its subscribers (a polling Socket.IO client among them)', T, async () => {
    await closeAll();
    const btc = await v1('?subscribe=ticker.BTC-USD');
    const eth = await v1('?subscribe=ticker.ETH-USD');
    const s = await socketio(['polling']);
    assert.deepEqual(withoutEpochs(await s.socket.emitWithAck('subscribe', ['*.BTC-USD'])), { topics: ['*.BTC-USD'] });
    const halts = [];
    s.socket.on('halt', (d) => halts.push(d));
    const r = await call(api, 'POST', '/api/broadcast', { body: { event: 'halt', data: 'BTC-USD halted', topic: 'ticker.BTC-USD' } });
    assert.deepEqual(r.json, { delivered: 2 }, r.body);
    assert.equal((await btc.next('broadcast')).data, 'BTC-USD halted');
    await waitFor(() => halts.length === 1, { what: 'the polling client\'s halt event' });
    assert.deepEqual(halts, ['BTC-USD halted']);
    // Then one to everybody: the ETH-USD subscriber's first broadcast is that one.
    assert.deepEqual((await call(api, 'POST', '/api/broadcast', { body: { event: 'resume', data: {} } })).json, { delivered: 3 });
    assert.equal((await eth.next('broadcast')).event, 'resume');
    assert.equal(eth.messages.filter((m) => m.type === 'broadcast').length, 1);
    const unknown = await call(api, 'POST', '/api/broadcast', { body: { event: 'halt', data: 1, topic: 'ticker.NOPE-USD' } });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.json.message, "no feed of this gateway publishes topic 'ticker.NOPE-USD'");
  });

  test('an event named like a message type or an existing channel is refused', T, async () => {
    const cases = {
      ticker: /^'ticker' cannot name an event: it is a channel of this gateway/,
      welcome: /^'welcome' cannot name an event: it is reserved \(a message type or event of the protocol\)$/,
      status: /reserved \(a message type or event of the protocol\)$/,
      connect_error: /reserved \(a message type or event of the protocol\)$/,
      Announcement: /\[a-z0-9_\]\{1,27\}/,
      'forged\n2026-12-02T00:00:00.000Z info  admin': /cannot name an event/,
    };
    for (const [event, reason] of Object.entries(cases)) {
      const r = await call(api, 'POST', '/api/broadcast', { body: { event, data: {} } });
      assert.equal(r.status, 400, `${event}: ${r.body}`);
      assert.match(r.json.message, reason, event);
    }
    // What a caller sends cannot forge a line of the log.
    await waitFor(() => gw.stderr.includes("'forged\\x0a2026-12-02T00:00:00.000Z info  admin' cannot name an event"),
      { what: 'the escaped event name in the log' });
    assert.ok(!gw.stderr.split('\n').some((l) => l.startsWith('2026-12-02T00:00:00.000Z')));
  });

  test('disconnect by session closes that one with the code; others are unaffected', T, async () => {
    await closeAll();
    const target = await v1();
    const bystander = await v1();
    const r = await call(api, 'POST', '/api/disconnect', { body: { session: target.session, code: 4100, reason: 'moved to maintenance' } });
    assert.deepEqual(r.json, { disconnected: 1 }, r.body);
    assert.deepEqual(await target.waitClosed(3000), { code: 4100, reason: 'moved to maintenance' });
    assert.ok(bystander.isOpen);
    await bystander.request({ op: 'ping', id: 'still' }, 'pong');
    assert.deepEqual((await call(api, 'POST', '/api/disconnect', { body: { session: target.session } })).json, { disconnected: 0 });
    assert.match(gw.stderr, new RegExp(`session ${target.session} [^ ]+: closed by the operator \\(4100 moved to maintenance\\)`));
  });

  test('a Socket.IO client disconnected by session sees "io server disconnect" and does not come back', T, async () => {
    await closeAll();
    // Reconnection on, as a front end has it: an operator's disconnect must not be undone by it.
    const s = await socketio(['websocket'], { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 200 });
    const r = await call(api, 'POST', '/api/disconnect', { body: { session: s.got.welcome.session } });
    assert.deepEqual(r.json, { disconnected: 1 }, r.body);
    await waitFor(() => s.got.disconnects.includes('io server disconnect'), { what: 'io server disconnect' });
    await delay(1000);  // several reconnection delays
    assert.equal(s.socket.connected, false);
    assert.equal((await call(api, 'GET', '/api/connections')).json.totals.sessions, 0);
  });

  test('disconnect by user closes every connection with that sub, with the default 4000', T, async () => {
    await closeAll();
    const carol = hs256(SECRET, claims({ sub: 'carol' }));
    const carol1 = await v1(`?token=${carol}`);
    const carol2 = await v1(`?token=${carol}`);
    const dave = await v1(`?token=${hs256(SECRET, claims({ sub: 'dave' }))}`);
    const anonymous = await v1();
    const listed = await call(api, 'GET', '/api/connections');
    assert.deepEqual(listed.json.totals.by_user, { carol: 2, dave: 1 });
    assert.equal(listed.json.totals.anonymous, 1);
    const r = await call(api, 'POST', '/api/disconnect', { body: { user: 'carol' } });
    assert.deepEqual(r.json, { disconnected: 2 }, r.body);
    assert.equal((await carol1.waitClosed(3000))?.code, 4000);
    assert.equal((await carol2.waitClosed(3000))?.code, 4000);
    for (const c of [dave, anonymous]) await c.request({ op: 'ping', id: 1 }, 'pong');
    await sessionsAre(2);
  });

  test('connections with limit=1 walk every session exactly once', T, async () => {
    await closeAll();
    const erin = hs256(SECRET, claims({ sub: 'erin' }));
    const ids = new Set();
    for (let i = 0; i < 4; ++i) ids.add((await v1(i < 2 ? `?token=${erin}&subscribe=ticker.BTC-USD,ticker.*` : '')).session);
    const s = await socketio(['polling']);
    ids.add(s.got.welcome.session);
    const seen = [];
    let after = null;
    for (let page = 0; page < 20; ++page) {
      const r = await call(api, 'GET', `/api/connections?limit=1${after ? `&after=${after}` : ''}`);
      assert.equal(r.status, 200, r.body);
      assert.equal(r.json.totals.sessions, 5);
      assert.ok(r.json.sessions.length <= 1);
      seen.push(...r.json.sessions);
      after = r.json.next;
      if (after === null) break;
    }
    assert.deepEqual(seen.map((x) => x.session).sort(), [...ids].sort());
    assert.equal(new Set(seen.map((x) => x.session)).size, seen.length, 'a session seen twice');
    const bySession = new Map(seen.map((x) => [x.session, x]));
    const tokened = seen.filter((x) => x.user === 'erin');
    assert.equal(tokened.length, 2);
    for (const x of tokened) assert.equal(x.subscriptions, 2);
    const polling = bySession.get(s.got.welcome.session);
    assert.deepEqual({ protocol: polling.protocol, transport: polling.transport, user: polling.user },
      { protocol: 'socketio', transport: 'polling', user: null });
    for (const x of seen) {
      assert.match(x.peer, /^127\.0\.0\.1:\d+$/);
      const since = Date.parse(x.connected_since);
      assert.ok(Date.now() - since < 60000 && since <= Date.now() + 1000, x.connected_since);
    }
    const totals = (await call(api, 'GET', '/api/connections')).json.totals;
    assert.deepEqual(totals.by_protocol, { v1: 4, socketio: 1 });
    assert.deepEqual(totals.by_transport, { websocket: 4, polling: 1 });
  });

  test('SIGHUP reloads the key', T, async () => {
    const next = 'the-next-operator-key-after-rotation';
    writeFileSync(keyFile, next);
    gw.proc.kill('SIGHUP');
    await waitFor(() => gw.stderr.includes('SIGHUP: reloaded the admin key'), { what: 'the reload' });
    assert.equal((await call(api, 'GET', '/api/connections')).status, 401);
    assert.equal((await call(api, 'GET', '/api/connections', { key: next })).status, 200);
    writeFileSync(keyFile, KEY);
    gw.proc.kill('SIGHUP');
    await waitFor(async () => (await call(api, 'GET', '/api/connections')).status === 200, { what: 'the old key back' });
  });

  test('/metrics counts calls by endpoint and status', T, async () => {
    const m = await scrape(gw);
    assert.ok(m['tickgate_admin_requests_total{endpoint="broadcast",status="200"}'] >= 4, JSON.stringify(m));
    assert.ok(m['tickgate_admin_requests_total{endpoint="broadcast",status="400"}'] >= 6);
    assert.ok(m['tickgate_admin_requests_total{endpoint="broadcast",status="413"}'] >= 1);
    assert.ok(m['tickgate_admin_requests_total{endpoint="connections",status="401"}'] >= 2);
    assert.ok(m['tickgate_admin_requests_total{endpoint="other",status="404"}'] >= 1);
    assert.ok(m['tickgate_admin_requests_total{endpoint="disconnect",status="200"}'] >= 3);
  });
});

describe('POST /api/publish (--publish-channels chat)', () => {
  let gw;
  let api;
  let dir;
  const clients = [];
  before(async () => {
    dir = tempDir('tickgate-admin-publish-');
    const keyFile = path.join(dir.dir, 'admin.key');
    writeFileSync(keyFile, KEY);
    gw = await startGateway(['--symbols', '2', '--publish-channels', 'chat', '--publish-rate', '5',
      '--admin-listen', '127.0.0.1:0', '--admin-key-file', keyFile], { threads: 2 });
    api = await adminUrl(gw);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await stopChecked(gw);
    dir?.cleanup();
  });
  const open = async (query = '') => {
    const c = await connectReady(`${gw.wsUrl}${query}`);
    clients.push(c);
    return c;
  };

  test('a v1 subscriber receives the operator\'s message from "admin", in the room\'s one chain of seqs with a client\'s', T, async () => {
    const sub = await open('?subscribe=chat.lobby');
    const s = sio(gw.httpsUrl);
    const events = [];
    s.socket.on('chat', (m) => events.push(m));
    await waitFor(() => s.socket.connected && s.got.welcome, { what: 'a Socket.IO connection' });
    assert.deepEqual(await s.socket.emitWithAck('subscribe', ['chat.lobby']), { topics: ['chat.lobby'] });
    try {
      const r = await call(api, 'POST', '/api/publish', { raw: '{"topic":"chat.lobby","data":{"text":"welcome","n":1.50}}' });
      assert.equal(r.status, 200, r.body);
      assert.deepEqual(r.json, { topic: 'chat.lobby', seq: 1 });
      const m = await sub.next((x) => x.type === 'chat');
      assert.deepEqual({ ...m, ts: 0 }, { type: 'chat', topic: 'chat.lobby', seq: 1, ts: 0, from: 'admin', data: { text: 'welcome', n: 1.5 } });
      assert.ok(sub.raw.some((t) => t.includes('"n":1.50}')), 'the data as sent');
      // A client's publish takes the next seq of the same room.
      const client = await open();
      client.send({ op: 'publish', id: 'c1', topic: 'chat.lobby', data: 'hi' });
      const ack = await client.next((x) => x.id === 'c1');
      assert.deepEqual(ack, { type: 'published', id: 'c1', topic: 'chat.lobby', seq: 2 });
      const second = await sub.next((x) => x.type === 'chat' && x.seq === 2);
      assert.match(second.from, /^anon:/);
      await waitFor(() => events.length === 2, { what: 'both messages as Socket.IO chat events' });
      assert.deepEqual(events.map((e) => [e.seq, e.from === 'admin']), [[1, true], [2, false]]);
      assert.match(gw.stderr, /admin POST \/api\/publish from 127\.0\.0\.1:\d+: 200, publish to "chat\.lobby" \(\d+ bytes of data\): seq 1/);
    } finally {
      s.socket.disconnect();
    }
  });

  test('market-data and unlisted channels get 403, patterns and non-rooms 400, each with the reason; the API goes on', T, async () => {
    const cases = [
      [{ topic: 'ticker.BTC-USD', data: 1 }, 403, 'forbidden', /^'ticker' is a market-data channel/],
      [{ topic: 'trade.lobby', data: 1 }, 403, 'forbidden', /^'trade' is a market-data channel/],
      [{ topic: 'news.lobby', data: 1 }, 403, 'forbidden', /^channel 'news' is not publishable \(--publish-channels\)$/],
      [{ topic: 'chat.*', data: 1 }, 400, 'bad_request', /not a pattern/],
      [{ topic: 'chat.Lobby', data: 1 }, 400, 'bad_request', /must be a room/],
      [{ topic: 'chat.lobby' }, 400, 'bad_request', /field 'data' is required/],
      [{ topic: 'chat.lobby', data: 'x'.repeat(5000) }, 400, 'bad_request', /at most 4096/],
    ];
    for (const [body, status, error, message] of cases) {
      const r = await call(api, 'POST', '/api/publish', { body });
      assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 60)}: ${r.body}`);
      assert.equal(r.json.error, error);
      assert.equal(r.statusMessage, { 400: 'Bad Request', 403: 'Forbidden' }[status], 'the status line says it too');
      assert.match(r.json.message, message);
    }
    assert.equal((await call(api, 'POST', '/api/publish', { body: { topic: 'chat.other', data: null } })).status, 200);
  });

  test('a publishable channel cannot name a broadcast event, though no room of it has a message yet', T, async () => {
    const r = await call(api, 'POST', '/api/broadcast', { body: { event: 'chat', data: {} } });
    assert.equal(r.status, 400, r.body);
    assert.match(r.json.message, /^'chat' cannot name an event: it is a channel of this gateway/);
  });

  test('past --publish-rate the operator gets 429 rate_limited, like a client', T, async () => {
    let r;
    let ok = 0;
    for (let i = 0; i < 30; i++) {
      r = await call(api, 'POST', '/api/publish', { body: { topic: 'chat.flood', data: i } });
      if (r.status !== 200) break;
      ok++;
    }
    assert.equal(r.status, 429, r.body);
    assert.equal(r.statusMessage, 'Too Many Requests');
    assert.equal(r.json.error, 'rate_limited');
    assert.ok(ok >= 1 && ok <= 15, `${ok} accepted before the 429`);
    const m = await scrape(gw);
    assert.ok(m['tickgate_admin_requests_total{endpoint="publish",status="429"}'] >= 1, JSON.stringify(m));
    assert.ok(m['tickgate_admin_requests_total{endpoint="publish",status="403"}'] >= 3);
  });
});

describe('--admin-tls on', () => {
  let gw;
  let dir;
  before(async () => {
    dir = tempDir('tickgate-admin-tls-');
    const keyFile = path.join(dir.dir, 'admin.key');
    writeFileSync(keyFile, KEY);
    gw = await startGateway(['--symbols', '2', '--admin-listen', '127.0.0.1:0', '--admin-key-file', keyFile, '--admin-tls', 'on']);
  });
  after(async () => {
    await stopChecked(gw);
    dir?.cleanup();
  });

  test('serves the API over TLS with the gateway\'s certificate, and nothing in the clear', T, async () => {
    const base = await adminUrl(gw);
    assert.match(base, /^https:\/\/127\.0\.0\.1:\d+$/);
    const c = await connectReady(gw.wsUrl);
    try {
      const r = await call(base, 'POST', '/api/broadcast', { body: { event: 'hello', data: [1, 'two'] } });
      assert.deepEqual(r.json, { delivered: 1 }, r.body);
      assert.deepEqual((await c.next('broadcast')).data, [1, 'two']);
      // The certificate is the gateway's own (the one the WebSocket port serves).
      const cert = (port) => new Promise((resolve, reject) => {
        const req = https.request({ host: '127.0.0.1', port, path: '/healthz', rejectUnauthorized: false, agent: false }, (res) => {
          resolve(res.socket.getPeerCertificate().fingerprint256);
          res.resume();
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(await cert(Number(new URL(base).port)), await cert(gw.wsPort));
      const plain = await call(base.replace('https:', 'http:'), 'GET', '/api/connections').then((x) => x, (e) => e);
      assert.ok(plain instanceof Error || plain.status !== 200, `plain HTTP was answered: ${JSON.stringify(plain)}`);
    } finally {
      await c.close();
    }
  });
});
