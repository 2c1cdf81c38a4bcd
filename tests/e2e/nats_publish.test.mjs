// Client publishing and announcements across two gateways on NATS (issue 16; protocol/README.md,
// "Publishing", "Client messages on the bus", "Announcements on the bus"): a real nats-server, the
// real tickgate-feed as the one sequencer, two real gateways. Clients on both publish into one room
// at once; every subscriber on either gateway sees one chain of seqs, the one the acks carry. An
// operator's broadcast and /api/publish on one gateway reach the other's clients. With the
// publisher gone, a publish gets unavailable and the connection stays.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { io } from 'socket.io-client';
import { connectReady, delay, startGateway, tempDir, waitFor } from './support/gateway.mjs';
import { scrapeUrl, startNats, startPublisher } from './support/nats.mjs';

const T = { timeout: 60000 };
const KEY = 'e2e-operator-key-0123456789abcdef';
const N = 40;  // messages into chat.lobby, half from each gateway's client

/** One operator API call (plain HTTP on loopback); resolves {status, json, body}. */
function call(base, p, body) {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${p}`, {
      method: 'POST', agent: false, timeout: 8000,
      headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, json, body: text });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`POST ${p} timed out`)));
    req.on('error', reject);
    req.end(data);
  });
}

let ids = 0;
/** Publishes and resolves with the reply (published or error) and how long it took. */
async function publish(c, topic, data) {
  const id = `p${++ids}`;
  const sent = Date.now();
  c.send({ op: 'publish', id, topic, data });
  const reply = await c.next((m) => m.id === id && (m.type === 'published' || m.type === 'error'), 8000);
  return { reply, ms: Date.now() - sent };
}

const chatOf = (c) => c.messages.filter((m) => m.type === 'chat' && m.topic === 'chat.lobby');

describe('publishing across two gateways on NATS', () => {
  let nats;
  let pub;
  let dir;
  const gws = [];
  const apis = [];
  const clients = [];
  const sockets = [];
  const open = async (gw, label, query = '') => {
    const c = await connectReady(`${gw.wsUrl}${query}`, { label });
    clients.push(c);
    c.session = c.messages.find((m) => m.type === 'welcome').session;
    return c;
  };

  before(async () => {
    dir = tempDir('tickgate-nats-publish-');
    const keyFile = path.join(dir.dir, 'admin.key');
    writeFileSync(keyFile, KEY);
    nats = await startNats();
    // Client messages need bus v2; a few tickers keep the feeds fresh.
    pub = await startPublisher(nats.url, ['--bus-version', '2', '--symbols', '2', '--rate', '20']);
    for (let i = 0; i < 2; ++i) {
      const gw = await startGateway(['--feed', nats.url, '--publish-channels', 'chat', '--client-rate', '200',
        '--admin-listen', '127.0.0.1:0', '--admin-key-file', keyFile], { threads: 2 });
      gws.push(gw);
      const m = await waitFor(() => gw.stderr.match(/admin API on (http:\/\/[^\s/]+:\d+)\/api\//), { what: 'the admin API line' });
      apis.push(m[1]);
      await waitFor(() => /messages are sequenced by the publisher/.test(gw.stderr), { what: 'the bus wired' });
    }
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    for (const s of sockets) s.disconnect();
    for (const gw of gws) await gw.stop();
    await pub?.stop();
    await nats?.stop();
    dir?.cleanup();
  });

  test('clients on A and B publishing at once: every subscriber on both sees one chain 1..N, the acks\' seqs', T, async () => {
    const [A, B] = gws;
    const subA = await open(A, 'subA', '?subscribe=chat.lobby');
    const subB = await open(B, 'subB', '?subscribe=chat.lobby');
    const sio = io(B.httpsUrl, { rejectUnauthorized: false, reconnection: false, transports: ['websocket'] });
    sockets.push(sio);
    const sioChat = [];
    sio.on('chat', (m) => sioChat.push(m));
    await waitFor(() => sio.connected, { what: 'the Socket.IO client on B' });
    assert.deepEqual(await sio.emitWithAck('subscribe', ['chat.lobby']), { topics: ['chat.lobby'] });
    const pubA = await open(A, 'pubA');
    const pubB = await open(B, 'pubB');

    // Pairs sent together, one from each gateway, so the publisher sees them race.
    const acked = new Map();  // seq -> {from, data}
    for (let i = 0; i < N; i += 2) {
      const [a, b] = await Promise.all([
        publish(pubA, 'chat.lobby', { n: i, on: 'A' }),
        publish(pubB, 'chat.lobby', { n: i + 1, on: 'B' }),
      ]);
      for (const [r, c, n, on] of [[a, pubA, i, 'A'], [b, pubB, i + 1, 'B']]) {
        assert.equal(r.reply.type, 'published', JSON.stringify(r.reply));
        assert.equal(r.reply.topic, 'chat.lobby');
        assert.ok(!acked.has(r.reply.seq), `seq ${r.reply.seq} acked twice`);
        acked.set(r.reply.seq, { from: `anon:${c.session}`, data: { n, on } });
      }
    }
    assert.deepEqual([...acked.keys()].sort((x, y) => x - y), Array.from({ length: N }, (_, k) => k + 1),
      'the acks carry seqs 1..N, each once');

    await waitFor(() => chatOf(subA).length >= N && chatOf(subB).length >= N && sioChat.length >= N,
      { timeoutMs: 10000, what: `${N} messages on every subscriber` });
    await delay(200);  // nothing more comes: a duplicate would land here
    for (const [label, got] of [['A v1', chatOf(subA)], ['B v1', chatOf(subB)], ['B Socket.IO', sioChat]]) {
      assert.deepEqual(got.map((m) => m.seq), Array.from({ length: N }, (_, k) => k + 1), `${label}: one chain, no gap, no duplicate`);
      for (const m of got) {
        assert.equal(m.from, acked.get(m.seq).from, `${label}: from of seq ${m.seq}`);
        assert.deepEqual(m.data, acked.get(m.seq).data, `${label}: data of seq ${m.seq}`);
      }
    }
    // Both gateways got the same messages with the same ts: the publisher stamped them once.
    assert.deepEqual(chatOf(subA).map((m) => m.ts), chatOf(subB).map((m) => m.ts));

    const feed = `{feed="${nats.url}"}`;
    for (const gw of gws) {
      const m = await scrapeUrl(gw.metricsUrl);
      assert.ok(m[`tickgate_upstream_client_messages_total${feed}`] >= N, JSON.stringify(m).slice(0, 300));
      assert.equal(m[`tickgate_upstream_publish_errors_total${feed}`], 0);
      assert.equal(m['tickgate_published_messages_total{result="stale"}'] ?? 0, 0);
    }
  });

  test('an operator broadcast on A reaches B\'s client once, and A\'s once', T, async () => {
    const [A, B] = gws;
    const onA = await open(A, 'bcastA');
    const onB = await open(B, 'bcastB');
    const r = await call(apis[0], '/api/broadcast', { event: 'maintenance', data: { at: '22:00' } });
    assert.equal(r.status, 200, r.body);
    assert.ok(r.json.delivered >= 1, r.body);  // A's clients only
    const a = await onA.next('broadcast', 5000);
    const b = await onB.next('broadcast', 5000);
    assert.deepEqual([a.event, a.data], ['maintenance', { at: '22:00' }]);
    assert.deepEqual([b.event, b.data], ['maintenance', { at: '22:00' }]);
    assert.equal(a.ts, b.ts, 'one ts for every gateway');
    await delay(300);
    assert.equal(onA.messages.filter((m) => m.type === 'broadcast').length, 1, 'A does not get its own back from the bus');
    assert.equal(onB.messages.filter((m) => m.type === 'broadcast').length, 1);
    const mA = await scrapeUrl(A.metricsUrl);
    const mB = await scrapeUrl(B.metricsUrl);
    const feed = `{feed="${nats.url}"}`;
    assert.equal(mA[`tickgate_upstream_announcements_total${feed}`], 0);
    assert.equal(mB[`tickgate_upstream_announcements_total${feed}`], 1);
  });

  test('/api/publish on B reaches a subscriber on A from "admin", next in the room\'s chain', T, async () => {
    const subA = await open(gws[0], 'adminSubA', '?subscribe=chat.lobby');
    const r = await call(apis[1], '/api/publish', { topic: 'chat.lobby', data: 'from the operator' });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(r.json, { topic: 'chat.lobby', seq: N + 1 });
    const m = await subA.next((x) => x.type === 'chat', 5000);
    assert.deepEqual([m.seq, m.from, m.data], [N + 1, 'admin', 'from the operator']);
  });

  test('with the publisher stopped, a publish gets unavailable within a few seconds and the connection stays', T, async () => {
    const c = await open(gws[0], 'nopub');
    await pub.stop();
    const { reply, ms } = await publish(c, 'chat.lobby', 'anyone?');
    assert.equal(reply.type, 'error', JSON.stringify(reply));
    assert.equal(reply.code, 'unavailable');
    assert.ok(reply.message.length > 0);
    assert.ok(ms < 5000, `answered after ${ms} ms`);
    c.send({ op: 'ping', id: 'still' });
    await c.next((m) => m.type === 'pong' && m.id === 'still');
    assert.ok(c.isOpen);
    const r = await call(apis[1], '/api/publish', { topic: 'chat.lobby', data: 1 });
    assert.equal(r.status, 503, r.body);
    assert.equal(r.json.error, 'unavailable');
    const m = await scrapeUrl(gws[0].metricsUrl);
    assert.ok(m[`tickgate_upstream_publish_errors_total{feed="${nats.url}"}`] >= 1);
  });
});
