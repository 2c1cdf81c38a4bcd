// Client publishing on one gateway (issue 16; protocol/README.md, "Publishing"): rooms on
// --publish-channels known before their first message, per-room seqs, the same message to v1 and
// Socket.IO subscribers, the refusals (forbidden, bad_request, rate_limited, too_many_topics) with
// the connection surviving, the per-connection and the global rate limits, the room limit apart from
// market data, Socket.IO acks and unknown events, and token publish claims.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { connectReady, delay, scrape, startGateway, tempDir, waitFor } from './support/gateway.mjs';
import { claims, hs256, stopChecked, writeKey } from './support/jwt.mjs';

const T = { timeout: 20000 };
let ids = 0;
const nextId = () => `p${++ids}`;

/** Publishes and resolves with the reply: the published object, or the error. */
async function publish(c, topic, data, extra = {}) {
  const id = nextId();
  c.send({ op: 'publish', id, topic, data, ...extra });
  return c.next((m) => m.id === id && (m.type === 'published' || m.type === 'error'), 5000);
}

async function alive(c) {
  const id = nextId();
  c.send({ op: 'ping', id });
  await c.next((m) => m.type === 'pong' && m.id === id);
}

/** A Socket.IO client on WebSocket; resolves once the gateway's welcome came. */
function sioClient(url, opts = {}) {
  const s = io(url, { rejectUnauthorized: false, transports: ['websocket'], reconnection: false, ...opts });
  s.received = [];
  s.onAny((event, ...args) => s.received.push({ event, args }));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no Socket.IO welcome')), 5000);
    s.once('welcome', () => { clearTimeout(t); resolve(s); });
    s.once('connect_error', (e) => { clearTimeout(t); reject(e); });
  });
}
const emitAck = (s, ...args) => new Promise((resolve) => s.emit(...args, resolve));

const chatOf = (c, topic) => c.messages.filter((m) => m.type === 'chat' && m.topic === topic);

describe('publishing without tokens', () => {
  let gw;
  const clients = [];
  const open = async (label, query = '') => {
    const c = await connectReady(`${gw.wsUrl}${query}`, { label });
    clients.push(c);
    return c;
  };
  before(async () => {
    gw = await startGateway(['--symbols', '2', '--publish-channels', 'chat', '--client-rate', '10',
      '--publish-rate', '1000'], { threads: 2 });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await stopChecked(gw);
  });

  test('the welcome names the publishable channels, v1 and Socket.IO alike', T, async () => {
    const c = await open('welcome');
    assert.deepEqual(c.messages[0].publish, ['chat'], JSON.stringify(c.messages[0]));
    const s = await sioClient(gw.httpsUrl);
    try {
      const welcome = s.received.find((r) => r.event === 'welcome').args[0];
      assert.deepEqual(welcome.publish, ['chat']);
    } finally {
      s.close();
    }
  });

  test('a room is known before its first message, which its subscriber receives; seqs run 1,2,3 per room', T, async () => {
    const early = await open('early');
    const ack = await early.request({ op: 'subscribe', id: 's1', topics: ['chat.first', 'chat.second'] }, 'subscribed');
    assert.deepEqual(ack.topics, ['chat.first', 'chat.second']);
    assert.ok(!early.messages.some((m) => m.type === 'error'), 'no unknown_topic for a room that does not exist yet');
    const list = await early.request({ op: 'list', id: 'l1' }, 'topics');
    assert.ok(!list.topics.includes('chat.first'), `list shows rooms that exist only: ${list.topics}`);

    const author = await open('author');
    for (const [topic, n] of [['chat.first', 1], ['chat.second', 1], ['chat.first', 2], ['chat.first', 3], ['chat.second', 2]]) {
      const reply = await publish(author, topic, { text: `${topic} ${n}`, n: 1.5 });
      assert.deepEqual({ ...reply }, { type: 'published', id: reply.id, topic, seq: n });
    }
    await waitFor(() => chatOf(early, 'chat.first').length === 3 && chatOf(early, 'chat.second').length === 2,
      { what: 'every message at the early subscriber' });
    const first = chatOf(early, 'chat.first');
    assert.deepEqual(first.map((m) => m.seq), [1, 2, 3]);
    assert.deepEqual(chatOf(early, 'chat.second').map((m) => m.seq), [1, 2]);
    const session = author.messages.find((m) => m.type === 'welcome').session;
    assert.equal(first[0].from, `anon:${session}`);
    assert.deepEqual(first[0].data, { text: 'chat.first 1', n: 1.5 });
    assert.equal(typeof first[0].ts, 'number');
    assert.ok((await early.request({ op: 'list', id: 'l2' }, 'topics')).topics.includes('chat.first'));
  });

  test('the data goes out as the client wrote it', T, async () => {
    const sub = await open('exact', '?subscribe=chat.exact');
    const author = await open('exact-author');
    const raw = '{"op":"publish","id":"raw","topic":"chat.exact","data":{"b": 1.50, "a":[1e3, "\\u00e9"]}}';
    author.send(raw);
    await author.next((m) => m.id === 'raw' && m.type === 'published');
    await waitFor(() => sub.raw.some((t) => t.includes('"topic":"chat.exact"')));
    const text = sub.raw.find((t) => t.includes('"topic":"chat.exact"'));
    assert.ok(text.endsWith(',"data":{"b": 1.50, "a":[1e3, "\\u00e9"]}}'), text);
  });

  test('a v1 and a Socket.IO subscriber get the same message; the Socket.IO ack and the event', T, async () => {
    const v1 = await open('v1', '?subscribe=chat.both');
    const s = await sioClient(gw.httpsUrl);
    try {
      assert.deepEqual(await emitAck(s, 'subscribe', ['chat.both']), { topics: ['chat.both'] });
      const ack = await emitAck(s, 'publish', { topic: 'chat.both', data: ['from', 'socket.io'] });
      assert.deepEqual(ack, { topic: 'chat.both', seq: 1 });
      await waitFor(() => chatOf(v1, 'chat.both').length === 1 && s.received.some((r) => r.event === 'chat'));
      const event = s.received.find((r) => r.event === 'chat');
      assert.deepEqual(event.args[0], { ...chatOf(v1, 'chat.both')[0] });
      assert.deepEqual(event.args[0].data, ['from', 'socket.io']);

      const refused = await emitAck(s, 'publish', { topic: 'ticker.BTC-USD', data: 1 });
      assert.equal(refused.error?.code, 'forbidden', JSON.stringify(refused));
      const pattern = await emitAck(s, 'publish', { topic: 'chat.*', data: 1 });
      assert.equal(pattern.error?.code, 'bad_request', JSON.stringify(pattern));
      // Without an ack the answer is a `published` event.
      s.emit('publish', { topic: 'chat.both', data: 2 });
      await waitFor(() => s.received.some((r) => r.event === 'published'));
      assert.deepEqual(s.received.find((r) => r.event === 'published').args[0], { type: 'published', topic: 'chat.both', seq: 2 });
    } finally {
      s.close();
    }
  });

  test('a Socket.IO event the gateway does not know gets an error event naming it', T, async () => {
    const s = await sioClient(gw.httpsUrl);
    try {
      s.emit('pubilsh', { topic: 'chat.lobby', data: 1 });
      await waitFor(() => s.received.some((r) => r.event === 'error'));
      const error = s.received.find((r) => r.event === 'error').args[0];
      assert.equal(error.code, 'bad_request');
      assert.match(error.message, /unknown event 'pubilsh'/);
      const ack = await emitAck(s, 'typo_with_ack', 1);
      assert.match(ack.error?.message ?? '', /unknown event 'typo_with_ack'/);
      assert.ok(s.connected, 'still connected');
    } finally {
      s.close();
    }
  });

  test('refusals: market channel and unlisted channel forbidden, pattern, deep and invalid JSON bad_request; the connection survives', T, async () => {
    const c = await open('refused');
    const cases = [
      ['ticker.BTC-USD', 'forbidden', /not publishable/],
      ['news.lobby', 'forbidden', /not publishable/],
      ['chat.*', 'bad_request', /not a pattern/],
      ['*.*', 'bad_request', /not a pattern/],
      ['chat.BTC-USD', 'bad_request', /not a room/],
      ['chat.Lobby', 'bad_request', /not a topic/],
    ];
    for (const [topic, code, says] of cases) {
      const reply = await publish(c, topic, 1);
      assert.equal(reply.type, 'error', `${topic}: ${JSON.stringify(reply)}`);
      assert.equal(reply.code, code, `${topic}: ${JSON.stringify(reply)}`);
      assert.match(reply.message, says, topic);
    }
    const deep = JSON.parse(`${'['.repeat(32)}0${']'.repeat(32)}`);
    const tooDeep = await publish(c, 'chat.deep', deep);
    assert.equal(tooDeep.code, 'bad_request');
    assert.equal(tooDeep.message, 'JSON nested deeper than 32 levels');
    const okDeep = await publish(c, 'chat.deep', JSON.parse(`${'['.repeat(31)}0${']'.repeat(31)}`));
    assert.equal(okDeep.type, 'published', '31 levels inside the request object are fine');
    c.send('{"op":"publish","id":"bad","topic":"chat.lobby","data":{"unterminated":');
    const invalid = await c.next((m) => m.type === 'error' && m.message.startsWith('malformed JSON'));
    assert.equal(invalid.code, 'bad_request');
    await alive(c);
    assert.ok(c.isOpen);
  });

  test('a publish flood from one connection meets --client-rate', T, async () => {
    // Counted at a subscriber, not from the flooder's acks: a flood that keeps going past the
    // refusals is closed with 1008, and acks still on their way from worker 0 die with it.
    const sub = await open('flood-sub');
    await sub.request({ op: 'subscribe', id: 'sf', topics: ['chat.flood'] }, 'subscribed');
    const c = await open('flood');
    const t0 = Date.now();
    for (let i = 0; i < 40; i++) c.send({ op: 'publish', id: `f${i}`, topic: 'chat.flood', data: i });
    await waitFor(() => c.messages.some((m) => m.type === 'error' && m.code === 'rate_limited') || c.closeInfo,
      { what: 'rate_limited' });
    const limited = c.messages.filter((m) => m.type === 'error' && m.code === 'rate_limited');
    assert.ok(limited.length > 0, `rate_limited errors; closed ${JSON.stringify(c.closeInfo)}`);
    assert.match(limited[0].message, /messages per second/);
    await waitFor(() => c.closeInfo || c.messages.filter((m) => m.type === 'published' || m.code === 'rate_limited').length === 40,
      { what: 'an answer to every request, or the 1008 close' });
    if (c.closeInfo) assert.equal(c.closeInfo.code, 1008, JSON.stringify(c.closeInfo));
    const elapsedS = (Date.now() - t0) / 1000;
    const marker = await open('flood-marker');
    assert.equal((await publish(marker, 'chat.flood', 'end')).type, 'published');
    await waitFor(() => chatOf(sub, 'chat.flood').some((m) => m.data === 'end'), { what: 'the marker at the subscriber' });
    const flood = chatOf(sub, 'chat.flood').filter((m) => m.data !== 'end');
    // The burst (2 x 10) and what the bucket refilled meanwhile, however slow the machine was.
    const most = 20 + Math.ceil(elapsedS * 10) + 1;
    assert.ok(flood.length >= 1 && flood.length <= most, `${flood.length} got through, at most ${most}`);
    // Everything that did get through was delivered, in order, and nothing else was.
    assert.deepEqual(flood.map((m) => m.data), flood.map((_, i) => i));
    assert.deepEqual(flood.map((m) => m.seq), flood.map((_, i) => i + 1));
    assert.ok(sub.isOpen, 'the subscriber is unaffected');
  });

  test('a message over --max-message-bytes closes with 1009', T, async () => {
    const c = await open('big');
    c.send({ op: 'publish', id: 'big', topic: 'chat.big', data: 'x'.repeat(5000) });
    assert.equal((await c.waitClosed(3000))?.code, 1009);
  });
});

describe('global limits: --publish-rate and --max-publish-topics', () => {
  let gw;
  const clients = [];
  const open = async (label, query = '') => {
    const c = await connectReady(`${gw.wsUrl}${query}`, { label });
    clients.push(c);
    return c;
  };
  before(async () => {
    gw = await startGateway(['--symbols', '2', '--rate', '200', '--publish-channels', 'chat', '--publish-rate', '10',
      '--max-publish-topics', '3']);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await stopChecked(gw);
  });

  test('a flood across connections gets rate_limited from --publish-rate; others\' messages still arrive', T, async () => {
    const watcher = await open('watcher', '?subscribe=chat.lobby');
    const floods = await Promise.all([1, 2, 3, 4].map((i) => open(`flood${i}`)));
    const t0 = Date.now();
    const replies = await Promise.all(floods.map(async (c) => {
      const out = [];
      for (let i = 0; i < 8; i++) c.send({ op: 'publish', id: `g${i}`, topic: 'chat.lobby', data: i });
      for (let i = 0; i < 8; i++) out.push(await c.next((m) => m.id === `g${i}`, 5000));
      return out;
    }));
    const all = replies.flat();
    const accepted = all.filter((m) => m.type === 'published');
    const limited = all.filter((m) => m.code === 'rate_limited');
    assert.equal(accepted.length + limited.length, 32);
    // Ten a second for everyone together, with a burst of ten, and what refilled while they came.
    const most = 10 + Math.ceil(((Date.now() - t0) / 1000) * 10) + 1;
    assert.ok(accepted.length >= 10 && accepted.length <= most, `accepted ${accepted.length}, at most ${most}`);
    assert.ok(limited.length > 0, 'some were rate_limited');
    assert.match(limited[0].message, /channel 'chat' \(all clients\)/);
    for (const c of floods) assert.ok(c.isOpen, `${c.label}: the global limit closes nobody`);
    await waitFor(() => chatOf(watcher, 'chat.lobby').length === accepted.length, { what: 'every accepted message' });

    await delay(1100);  // the bucket refills
    const other = await open('other');
    const reply = await publish(other, 'chat.lobby', 'still here');
    assert.equal(reply.type, 'published', JSON.stringify(reply));
    await watcher.next((m) => m.type === 'chat' && m.data === 'still here');
    const metrics = await scrape(gw);
    assert.equal(metrics['tickgate_published_messages_total{result="rate_limited"}'], limited.length);
    assert.ok(metrics['tickgate_published_messages_total{result="delivered"}'] >= accepted.length + 1);
  });

  test('a room flood past --max-publish-topics gets too_many_topics; existing rooms and market data go on', T, async () => {
    await delay(1100);  // a full bucket for this test
    const market = await open('market', '?subscribe=ticker.*');
    const c = await open('rooms');
    // chat.lobby exists from the test before: two more fit.
    const results = [];
    for (const room of ['r1', 'r2', 'r3', 'r4']) results.push(await publish(c, `chat.${room}`, room));
    assert.deepEqual(results.map((r) => r.type === 'published' ? 'ok' : r.code),
      ['ok', 'ok', 'too_many_topics', 'too_many_topics']);
    assert.match(results[2].message, /--max-publish-topics/);
    assert.equal((await publish(c, 'chat.r1', 'again')).seq, 2, 'an existing room goes on');
    const metrics = await scrape(gw);
    assert.equal(metrics.tickgate_publish_topics, 3);
    assert.equal(metrics['tickgate_published_messages_total{result="too_many_topics"}'], 2);
    assert.equal(metrics.tickgate_topic_limit_drops_total, 0);
    const before = market.messages.length;
    await waitFor(() => market.messages.slice(before).filter((m) => m.type === 'ticker').length >= 5,
      { what: 'market data after the room flood' });
    await alive(c);
  });
});

describe('publishing with tokens', () => {
  let gw;
  let dir;
  const secret = 'a-test-secret-of-at-least-32-bytes!!';
  const clients = [];
  const open = async (label, query = '') => {
    const c = await connectReady(`${gw.wsUrl}${query}`, { label });
    clients.push(c);
    return c;
  };
  const token = (extra) => hs256(secret, claims(extra));
  before(async () => {
    dir = tempDir('tickgate-publish-auth-');
    const file = writeKey(dir.dir, 'secret', secret);
    gw = await startGateway(['--symbols', '2', '--jwt-secret-file', file, '--anonymous-topics', 'chat.*',
      '--publish-channels', 'chat']);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await stopChecked(gw);
    dir?.cleanup();
  });

  test('a token whose publish claim covers chat.* publishes as its sub; one without it, and anonymous clients, are forbidden', T, async () => {
    const watcher = await open('anonymous watcher', '?subscribe=chat.lobby');
    const writer = await open('writer', `?token=${token({ sub: 'carol', publish: ['chat.*'] })}`);
    const reader = await open('reader', `?token=${token({ sub: 'dave' })}`);
    const narrow = await open('narrow', `?token=${token({ sub: 'erin', publish: ['chat.ops'] })}`);

    const ok = await publish(writer, 'chat.lobby', { text: 'signed' });
    assert.equal(ok.type, 'published', JSON.stringify(ok));
    const got = await watcher.next((m) => m.type === 'chat' && m.topic === 'chat.lobby');
    assert.equal(got.from, 'carol');
    assert.deepEqual(got.data, { text: 'signed' });

    for (const [c, says] of [[reader, /publish claim/], [narrow, /publish claim/], [watcher, /anonymous/]]) {
      const reply = await publish(c, 'chat.lobby', 'nope');
      assert.equal(reply.code, 'forbidden', `${c.label}: ${JSON.stringify(reply)}`);
      assert.match(reply.message, says, c.label);
      await alive(c);
    }
    assert.equal((await publish(narrow, 'chat.ops', 'mine')).type, 'published', 'its own room is allowed');

    // Socket.IO with the token in its CONNECT: the same claim decides.
    const s = await sioClient(gw.httpsUrl, { auth: { token: token({ sub: 'frank', publish: ['chat.lobby'] }) } });
    try {
      assert.deepEqual(await emitAck(s, 'publish', { topic: 'chat.lobby', data: 'sio' }), { topic: 'chat.lobby', seq: 2 });
      assert.equal((await emitAck(s, 'publish', { topic: 'chat.other', data: 1 })).error?.code, 'forbidden');
    } finally {
      s.close();
    }
    const fromSio = await watcher.next((m) => m.type === 'chat' && m.data === 'sio');
    assert.equal(fromSio.from, 'frank');
  });
});
