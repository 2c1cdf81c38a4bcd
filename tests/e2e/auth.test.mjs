// JWT access control end to end (protocol/README.md, "Authentication and entitlements"): tokens on
// the upgrade URL, in Authorization: Bearer and in an auth message; the attacks a verifier must
// refuse; per-topic entitlements on subscribe, list and ?subscribe=; refresh and expiry; the
// per-user limit; the auth timeout; SIGHUP key reload; and no token in the log.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connectReady, delay, startGateway, tempDir } from './support/gateway.mjs';
import { algNone, claims, ecKeys, es256, hs256, nowS, stopChecked, upgrade, writeKey } from './support/jwt.mjs';

const T = { timeout: 20000 };
const AUD = 'tickgate-test';
const ISS = 'https://issuer.test';

describe('ES256 keys with aud and iss', () => {
  let gw;
  let dir;
  let keyFile;
  let key = ecKeys();
  const stranger = ecKeys();
  const tokens = [];  // every token sent: none may appear in the log
  const clients = [];
  let users = 0;
  // Each token its own sub unless a test names one: --max-connections-per-user 2 applies to all.
  const good = (extra = {}, k = key) => {
    const t = es256(k.privateKey, claims({ sub: `user${++users}`, aud: AUD, iss: ISS, ...extra }));
    tokens.push(t);
    return t;
  };
  const open = async (query = '', opts = {}) => {
    const c = await connectReady(`${gw.wsUrl}${query}`, opts);
    clients.push(c);
    return c;
  };

  before(async () => {
    dir = tempDir('tickgate-auth-');
    keyFile = writeKey(dir.dir, 'main.pem', key.publicPem);
    gw = await startGateway(['--symbols', '3', '--log-level', 'debug', '--jwt-public-key-file', keyFile,
      '--jwt-audience', AUD, '--jwt-issuer', ISS, '--auth-timeout-ms', '600', '--max-connections-per-user', '2']);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await stopChecked(gw);
    dir?.cleanup();
  });

  test('a good token on the URL or in Authorization: Bearer gets a working connection', T, async () => {
    for (const [query, headers] of [[`?token=${good()}`, {}], ['', { Authorization: `Bearer ${good()}` }]]) {
      const c = await open(query, { headers });
      const ack = await c.request({ op: 'subscribe', id: 1, topics: ['ticker.BTC-USD'] }, 'subscribed');
      assert.deepEqual(ack.topics, ['ticker.BTC-USD']);
      await c.next((m) => m.topic === 'ticker.BTC-USD' && m.seq > 0);
    }
  });

  test('attacks on the upgrade get 401 {"error":"invalid_token"}', T, async () => {
    const cases = {
      'forged signature (another key)': good({}, stranger),
      'alg none': algNone(claims({ aud: AUD, iss: ISS })),
      'HS256 signed with the PEM public key (algorithm confusion)': hs256(key.publicPem, claims({ aud: AUD, iss: ISS })),
      'HS256 with kid of the public key': hs256(key.publicPem, claims({ aud: AUD, iss: ISS }), { kid: 'main' }),
      'unknown kid': es256(key.privateKey, claims({ aud: AUD, iss: ISS }), { kid: 'retired' }),
      expired: good({ exp: nowS() - 60 }),
      'nbf in the future': good({ nbf: nowS() + 120 }),
      'no exp': good({ exp: null }),
      'no sub': good({ sub: null }),
      'wrong aud': good({ aud: 'someone-else' }),
      'wrong iss': good({ iss: 'https://evil.test' }),
      'sub admin': good({ sub: 'admin' }),
      'sub anon:*': good({ sub: 'anon:x' }),
      garbage: 'not.a.jwt',
    };
    for (const [what, token] of Object.entries(cases)) {
      tokens.push(token);
      const viaQuery = await upgrade(gw.httpsUrl, `/ws?token=${encodeURIComponent(token)}`);
      assert.equal(viaQuery.status, 401, `${what} (query): ${viaQuery.body}`);
      assert.equal(viaQuery.json?.error, 'invalid_token', `${what}: ${viaQuery.body}`);
      assert.equal(typeof viaQuery.json?.message, 'string');
      const viaHeader = await upgrade(gw.httpsUrl, '/ws', { Authorization: `Bearer ${token}` });
      assert.equal(viaHeader.status, 401, `${what} (header): ${viaHeader.body}`);
    }
    assert.equal((await upgrade(gw.httpsUrl, `/ws?token=${good()}`)).status, 101, 'a good token still upgrades');
  });

  // libjwt reads a C string: before the gateway checked the compact serialization, a good token
  // followed by a NUL and anything verified as the good token (jwt_fuzz found it, 2026-12-04).
  test('a good token with a NUL and more after it is not a token: 401 in the query, 4001 in a message', T, async () => {
    for (const tail of ['\u0000junk', '\u0000', '\u0000.x.y']) {
      const token = good() + tail;
      const q = await upgrade(gw.httpsUrl, `/ws?token=${encodeURIComponent(token)}`);
      assert.equal(q.status, 401, `${JSON.stringify(tail)} (query): ${q.body}`);
      assert.equal(q.json?.error, 'invalid_token');
      assert.match(q.json?.message, /not a well-formed JWT/);
      const c = await open();
      c.send({ op: 'auth', id: 3, token });  // JSON.stringify writes the NUL as \u0000
      const err = await c.next('error');
      assert.equal(err.code, 'invalid_token', JSON.stringify(err));
      assert.deepEqual(await c.waitClosed(3000), { code: 4001, reason: 'invalid token' });
    }
    assert.equal((await upgrade(gw.httpsUrl, `/ws?token=${good()}`)).status, 101, 'the same token without the tail upgrades');
  });

  test('a token over 8 KiB: 414 in the query, 431 in a header, 1009 in a message', T, async () => {
    const huge = good({ pad: 'x'.repeat(64 * 1024) });
    const q = await upgrade(gw.httpsUrl, `/ws?token=${huge}`);
    assert.equal(q.status, 414, q.body);
    const h = await upgrade(gw.httpsUrl, '/ws', { Authorization: `Bearer ${huge}` });
    assert.equal(h.status, 431, h.body);
    const c = await open();
    c.send({ op: 'auth', id: 1, token: huge });
    assert.equal((await c.waitClosed(3000))?.code, 1009);
  });

  test('a token in the wrong place authenticates nothing', T, async () => {
    // ?access_token= and a cookie are not token sources: the connection is anonymous, and with no
    // anonymous topics it may subscribe to nothing and is closed when the auth timeout passes.
    const c = await open(`?access_token=${good()}`, { headers: { Cookie: `token=${good()}` } });
    const err = await c.request({ op: 'subscribe', id: 2, topics: ['ticker.BTC-USD'] }, 'error');
    assert.equal(err.code, 'forbidden');
    assert.deepEqual(err.topics, ['ticker.BTC-USD']);
    const closed = await c.waitClosed(3000);
    assert.equal(closed?.code, 4001, 'closed by the auth timeout');
  });

  test('the auth timeout closes a silent unauthenticated connection with 4001', T, async () => {
    const t0 = Date.now();
    const c = await open();
    const closed = await c.waitClosed(5000);
    assert.equal(closed?.code, 4001);
    assert.ok(Date.now() - t0 >= 500, `closed after ${Date.now() - t0} ms, not before --auth-timeout-ms 600`);
  });

  test('auth message: authenticated reply, then entitlements apply; a bad one gets invalid_token and 4001', T, async () => {
    const c = await open();
    const exp = nowS() + 300;
    const reply = await c.request({ op: 'auth', id: 1, token: good({ sub: 'alice', exp, topics: ['ticker.*'] }) }, 'authenticated');
    assert.deepEqual(reply, { type: 'authenticated', id: 1, sub: 'alice', expires_at: exp * 1e9 });
    const ack = await c.request({ op: 'subscribe', id: 2, topics: ['ticker.ETH-USD'] }, 'subscribed');
    assert.deepEqual(ack.topics, ['ticker.ETH-USD']);
    await delay(800);
    assert.ok(c.isOpen, 'an authenticated connection outlives the auth timeout');

    const bad = await open();
    const token = good({}, stranger);
    bad.send({ op: 'auth', id: 7, token });
    const err = await bad.next('error');
    assert.equal(err.code, 'invalid_token');
    assert.equal(err.id, 7);
    const closed = await bad.waitClosed(3000);
    assert.deepEqual(closed, { code: 4001, reason: 'invalid token' });
  });

  test('entitlements: *.* and ticker.* are forbidden with only ticker.BTC-USD; errors in order, then the ack', T, async () => {
    const c = await open(`?token=${good({ topics: ['ticker.BTC-USD'] })}`);
    const from = c.messages.length;
    c.send({ op: 'subscribe', id: 3, topics: ['not a topic', '*.*', 'ticker.*', 'ticker.ETH-USD', 'ticker.BTC-USD'] });
    const ack = await c.next((m) => m.type === 'subscribed' && m.id === 3);
    const replies = c.messages.slice(from).filter((m) => m.id === 3);
    assert.deepEqual(replies.map((m) => m.code ?? m.type), ['bad_request', 'forbidden', 'subscribed']);
    assert.deepEqual(replies[1].topics, ['*.*', 'ticker.*', 'ticker.ETH-USD']);
    assert.deepEqual(ack.topics, ['ticker.BTC-USD']);
    await c.next((m) => m.topic === 'ticker.BTC-USD');
    await delay(300);
    assert.ok(c.updates().every((u) => u.topic === 'ticker.BTC-USD'), 'only the entitled topic is delivered');

    // forbidden is decided before unknown_topic: a client learns nothing about topics it may not see.
    const d = await open(`?token=${good({ sub: 'dora', topics: ['ticker.*'] })}`);
    const from2 = d.messages.length;
    d.send({ op: 'subscribe', id: 4, topics: ['trades.NOPE-USD', 'ticker.NOPE-USD', 'ticker.SOL-USD'] });
    await d.next((m) => m.type === 'subscribed' && m.id === 4);
    const r2 = d.messages.slice(from2).filter((m) => m.id === 4);
    assert.deepEqual(r2.map((m) => m.code ?? m.type), ['forbidden', 'unknown_topic', 'subscribed']);
    assert.deepEqual(r2[0].topics, ['trades.NOPE-USD']);
    assert.deepEqual(r2[1].topics, ['ticker.NOPE-USD']);
  });

  test('list shows only the topics a client may subscribe to', T, async () => {
    const all = await open(`?token=${good({ sub: 'erin' })}`);
    const full = (await all.request({ op: 'list', id: 1 }, 'topics')).topics;
    assert.ok(full.includes('ticker.ETH-USD') && full.includes('ticker.BTC-USD'), JSON.stringify(full));
    const one = await open(`?token=${good({ sub: 'fred', topics: ['ticker.BTC-USD'] })}`);
    assert.deepEqual((await one.request({ op: 'list', id: 1 }, 'topics')).topics, ['ticker.BTC-USD']);
  });

  test('?subscribe= is gated by the token', T, async () => {
    const c = await open(`?subscribe=ticker.BTC-USD,ticker.ETH-USD&token=${good({ sub: 'gus', topics: ['ticker.BTC-USD'] })}`);
    const err = await c.next('error');
    assert.equal(err.code, 'forbidden');
    assert.deepEqual(err.topics, ['ticker.ETH-USD']);
    assert.deepEqual((await c.next('subscribed')).topics, ['ticker.BTC-USD']);
  });

  test('refresh: another sub is forbidden and changes nothing; narrower topics unsubscribe what they no longer allow', T, async () => {
    const c = await open(`?token=${good({ sub: 'hana', topics: ['ticker.*'] })}`);
    await c.request({ op: 'subscribe', id: 1, topics: ['ticker.BTC-USD', 'ticker.ETH-USD'] }, 'subscribed');
    const other = await c.request({ op: 'refresh', id: 2, token: good({ sub: 'mallory' }) }, 'error');
    assert.equal(other.code, 'forbidden');
    c.cursor = c.messages.length;
    await c.next((m) => m.topic === 'ticker.ETH-USD');  // still subscribed
    const exp = nowS() + 900;
    const from = c.messages.length;
    c.send({ op: 'refresh', id: 3, token: good({ sub: 'hana', exp, topics: ['ticker.BTC-USD'] }) });
    const done = await c.next((m) => m.type === 'authenticated' && m.id === 3);
    assert.equal(done.expires_at, exp * 1e9);
    const unsub = c.messages.slice(from).find((m) => m.type === 'unsubscribed');
    assert.deepEqual(unsub?.topics, ['ticker.ETH-USD']);
    const err = await c.request({ op: 'subscribe', id: 4, topics: ['ticker.ETH-USD'] }, 'error');
    assert.equal(err.code, 'forbidden');
    const mark = c.messages.length;
    await delay(400);
    assert.ok(c.updates(mark).every((u) => u.topic === 'ticker.BTC-USD'), 'no ETH-USD after the narrower refresh');
  });

  test('expiry: token_expiring first, then close 4003 "token expired"; a refresh in time keeps it open', T, async () => {
    const exp = nowS() + 2;
    const c = await open(`?token=${good({ sub: 'ivan', exp })}`);
    const warning = await c.next('token_expiring');
    assert.equal(warning.expires_at, exp * 1e9);
    const closed = await c.waitClosed(5000);
    assert.deepEqual(closed, { code: 4003, reason: 'token expired' });
    assert.ok(Date.now() >= exp * 1000 - 50, 'not closed before exp');

    const r = await open(`?token=${good({ sub: 'jane', exp: nowS() + 2 })}`);
    await r.next('token_expiring');
    await r.request({ op: 'refresh', id: 1, token: good({ sub: 'jane', exp: nowS() + 600 }) }, 'authenticated');
    await delay(3000);
    assert.ok(r.isOpen, 'refreshed in time: still open');
  });

  test('per-user limit: 503 on the upgrade, 4008 after an auth; a closed connection frees its place', T, async () => {
    const bob = () => good({ sub: 'bob' });
    const first = await open(`?token=${bob()}`);
    await open(`?token=${bob()}`);
    const third = await upgrade(gw.httpsUrl, `/ws?token=${bob()}`);
    assert.equal(third.status, 503, third.body);
    const viaAuth = await open();
    viaAuth.send({ op: 'auth', id: 1, token: bob() });
    assert.deepEqual(await viaAuth.waitClosed(3000), { code: 4008, reason: 'too many connections' });
    assert.equal((await upgrade(gw.httpsUrl, `/ws?token=${good({ sub: 'carol' })}`)).status, 101, 'other users are not limited');
    await first.close();
    await delay(200);
    const again = await open(`?token=${bob()}`);
    assert.ok(again.isOpen);
  });

  test('SIGHUP reloads the keys', T, async () => {
    const next = ecKeys();
    writeKey(dir.dir, 'main.pem', next.publicPem);
    gw.proc.kill('SIGHUP');
    const newToken = good({ sub: 'kim' }, next);
    let status;
    for (let i = 0; i < 50 && status !== 101; ++i) {
      status = (await upgrade(gw.httpsUrl, `/ws?token=${newToken}`)).status;
      if (status !== 101) await delay(50);
    }
    assert.equal(status, 101, 'a token of the new key is accepted');
    assert.equal((await upgrade(gw.httpsUrl, `/ws?token=${good({ sub: 'kim' })}`)).status, 401, 'the old key is gone');
    key = next;
  });

  test('no token appears in the log', T, async () => {
    await delay(100);
    const log = gw.stderr;
    assert.ok(tokens.length > 20);
    for (const t of tokens) {
      assert.ok(!log.includes(t), `a token appears in the log: ${t.slice(0, 40)}...`);
      // Nor its signature alone (a log that cut the token would still leak it).
      const sig = t.split('.')[2];
      if (sig && sig.length > 16) assert.ok(!log.includes(sig), 'a token signature appears in the log');
    }
  });
});

describe('HS256 secret with anonymous topics', () => {
  let gw;
  let dir;
  const secret = 'a-test-secret-that-is-long-enough-for-hs256';
  const clients = [];
  before(async () => {
    dir = tempDir('tickgate-auth-hs-');
    const file = writeKey(dir.dir, 'secret', `${secret}\n`);
    gw = await startGateway(['--symbols', '3', '--jwt-secret-file', file, '--anonymous-topics', 'ticker.BTC-USD',
      '--auth-timeout-ms', '300']);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await stopChecked(gw);
    dir?.cleanup();
  });

  test('anonymous clients get the anonymous topics only, and are not timed out', T, async () => {
    const c = await connectReady(gw.wsUrl);
    clients.push(c);
    const from = c.messages.length;
    c.send({ op: 'subscribe', id: 1, topics: ['ticker.BTC-USD', 'ticker.ETH-USD'] });
    await c.next((m) => m.type === 'subscribed' && m.id === 1);
    const err = c.messages.slice(from).find((m) => m.type === 'error');
    assert.deepEqual([err?.code, err?.topics], ['forbidden', ['ticker.ETH-USD']]);
    assert.deepEqual((await c.request({ op: 'list', id: 2 }, 'topics')).topics, ['ticker.BTC-USD']);
    await delay(600);
    assert.ok(c.isOpen, 'anonymous topics exist: no auth timeout');
  });

  test('an HS256 token widens an anonymous connection', T, async () => {
    const c = await connectReady(gw.wsUrl);
    clients.push(c);
    await c.request({ op: 'auth', id: 1, token: hs256(secret, claims({ topics: ['ticker.*'] })) }, 'authenticated');
    assert.deepEqual((await c.request({ op: 'subscribe', id: 2, topics: ['ticker.ETH-USD'] }, 'subscribed')).topics,
      ['ticker.ETH-USD']);
    const wrong = await upgrade(gw.httpsUrl, `/ws?token=${hs256('another-secret-another-secret-another', claims())}`);
    assert.equal(wrong.status, 401);
  });
});

describe('without a key flag', () => {
  let gw;
  before(async () => { gw = await startGateway(['--symbols', '2']); });
  after(async () => { await stopChecked(gw); });

  test('tokens are ignored on the upgrade and everything may be subscribed, as before', T, async () => {
    const c = await connectReady(`${gw.wsUrl}?token=whatever&subscribe=ticker.*`);
    const ack = await c.next('subscribed');
    assert.deepEqual(ack.topics, ['ticker.*']);
    await delay(900);
    assert.ok(c.isOpen);
    await c.close();
  });
});
