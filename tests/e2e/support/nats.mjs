// Helpers for the NATS tests: a nats-server of their own (loopback, a free port, JetStream in a
// temporary store), the tickgate-feed publisher, and a raw NATS publisher for foreign messages.
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import assert from 'node:assert/strict';
import { connectReady, delay, httpGet, parsePrometheus, scrape, startGateway, tempDir, waitFor } from './gateway.mjs';

export const FEED_BIN = process.env.TICKGATE_FEED_BIN
  || path.join(path.dirname(process.env.TICKGATE_BIN || '/work/build-e2e-node/tickgate'), 'tickgate-feed');
// Debian installs it in /usr/sbin, which is not on an ordinary user's PATH.
export const NATS_SERVER = process.env.NATS_SERVER
  || (existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server');

/** A free loopback TCP port (closed again, so nats-server can take it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts nats-server with JetStream on 127.0.0.1 (`port`, or a free one) storing in `storeDir`
 * (or a new temporary directory, removed by stop({ cleanup: true })). Resolves once it accepts.
 * A server restarted on the store of one stopped with { cleanup: false } passes ownStore: true, so
 * its own stop() removes the directory the first one left.
 */
export async function startNats({ port, storeDir, ownStore = false } = {}) {
  // A free port found here can be taken by another test before nats-server binds it: try again.
  for (let attempt = 1; ; ++attempt) {
    try {
      return await startNatsOnce({ port: port ?? await freePort(), storeDir, ownStore });
    } catch (err) {
      if (port !== undefined || attempt === 3) throw err;
    }
  }
}

async function startNatsOnce({ port, storeDir, ownStore }) {
  const store = !storeDir ? tempDir('tickgate-nats-')
    : { dir: storeDir, cleanup: ownStore ? () => rmSync(storeDir, { recursive: true, force: true }) : () => {} };
  const proc = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store.dir],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 10000;
  while (!/Server is ready/.test(log)) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      if (!storeDir) store.cleanup();
      throw new Error(`nats-server on ${port} did not start:\n${log}`);
    }
    await delay(20);
  }
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    storeDir: store.dir,
    proc,
    get log() { return log; },
    async stop({ signal = 'SIGTERM', cleanup = true } = {}) {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill(signal);
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      if (cleanup) store.cleanup();
    },
  };
}

/**
 * Starts tickgate-feed against `natsUrl` with `flags`; resolves once it publishes (stream created
 * or seq restored) and its metrics URL is known.
 */
export async function startPublisher(natsUrl, flags = [], { timeoutMs = 15000 } = {}) {
  const args = ['--nats', natsUrl, '--metrics-listen', '127.0.0.1:0', ...flags.map(String)];
  const proc = spawn(FEED_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = stderr.match(/metrics on (http:\/\/[^\s/]+:\d+)\/metrics/);
    if (m && /created JetStream stream|seq continues for/.test(stderr)) {
      return {
        proc,
        metricsUrl: `${m[1]}/metrics`,
        get stderr() { return stderr; },
        exited,
        async stop(signal = 'SIGTERM') {
          if (proc.exitCode !== null || proc.signalCode !== null) return exited;
          proc.kill(signal);
          const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
          const e = await exited;
          clearTimeout(t);
          return e;
        },
      };
    }
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`tickgate-feed did not start publishing:\n${stderr}`);
    }
    await delay(20);
  }
}

export async function scrapeUrl(url) {
  const r = await httpGet(url);
  if (r.status !== 200) throw new Error(`GET ${url}: HTTP ${r.status}`);
  return parsePrometheus(r.body);
}

/**
 * Publishes raw messages ([{subject, data: Buffer|string}]) over a plain NATS connection, the way
 * any client could, and waits for the server's PONG so they were all processed.
 */
export function rawPublish(port, messages, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = '';
    let sent = false;
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('rawPublish timed out')); }, timeoutMs);
    sock.on('error', (err) => { clearTimeout(timer); reject(err); });
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (!sent && buf.includes('INFO ')) {
        sent = true;
        const parts = [Buffer.from('CONNECT {"verbose":false,"pedantic":false}\r\n')];
        for (const { subject, data } of messages) {
          const body = Buffer.isBuffer(data) ? data : Buffer.from(data);
          parts.push(Buffer.from(`PUB ${subject} ${body.length}\r\n`), body, Buffer.from('\r\n'));
        }
        parts.push(Buffer.from('PING\r\n'));
        sock.write(Buffer.concat(parts));
      }
      if (/-ERR/.test(buf)) { clearTimeout(timer); sock.destroy(); reject(new Error(buf)); }
      if (sent && buf.includes('PONG')) { clearTimeout(timer); sock.end(); resolve(); }
    });
  });
}

/** A bus record (protocol/README.md, "The bus encoding") with the given seq and ts (BigInt ns). */
export function busRecord(seq, tsNs = BigInt(Date.now()) * 1_000_000n, { version = 1, priceDecimals = 2 } = {}) {
  const b = Buffer.alloc(100);
  b[0] = 0x54;
  b[1] = version;
  b[2] = priceDecimals;
  b[3] = 4;
  b.writeBigUInt64LE(BigInt(seq), 4);
  b.writeBigInt64LE(BigInt(tsNs), 12);
  for (let i = 0; i < 10; ++i) b.writeBigInt64LE(BigInt(1000 + i), 20 + 8 * i);
  return b;
}

/** Per topic, the live updates (not snapshots) a client received, as [{seq, text}]. */
export function liveByTopic(client) {
  const out = new Map();
  client.messages.forEach((m, i) => {
    if (typeof m.topic !== 'string' || typeof m.seq !== 'number' || m.snapshot) return;
    if (!out.has(m.topic)) out.set(m.topic, []);
    out.get(m.topic).push({ seq: m.seq, text: client.raw[i] });
  });
  return out;
}

/** Problems with one topic's seqs: anything but strictly rising (duplicates, going back). */
export function orderProblems(entries) {
  const problems = [];
  for (let i = 1; i < entries.length; ++i)
    if (entries[i].seq <= entries[i - 1].seq) problems.push(`${entries[i - 1].seq} -> ${entries[i].seq}`);
  return problems;
}

/** A v2 bus record of type `type` with `body` (protocol/README.md, "Bus v2: typed records"). */
export function v2Record(type, body) {
  const head = Buffer.alloc(3);
  head[0] = type;
  head.writeUInt16LE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** A v2 ticker record: v1's record (busRecord) after its magic and version bytes. */
export function v2Ticker(seq, tsNs, opts) {
  return v2Record(1, busRecord(seq, tsNs, opts).subarray(2));
}

/** A v2 message: the header with `epoch` (BigInt), then `records` (Buffers) in order. */
export function busMessageV2(records, epoch = 0x1122334455667788n) {
  const head = Buffer.alloc(10);
  head[0] = 0x54;
  head[1] = 2;
  head.writeBigUInt64LE(epoch, 2);
  return Buffer.concat([head, ...records]);
}

/** A v2 subject group (type 5): `records` (Buffers) belonging to `subject`, as in a live batch. */
export function v2Group(subject, records) {
  const s = Buffer.from(subject);
  return v2Record(5, Buffer.concat([Buffer.from([s.length]), s, ...records]));
}

/** A gateway fed by `nats` (one more --feed), resolved once it reports the upstream connected. */
export async function connectedGateway(nats, stops, flags = []) {
  const gw = await startGateway(['--feed', nats.url, ...flags]);
  stops.push(() => gw.stop());
  await waitFor(async () => (await scrape(gw))[`tickgate_upstream_connected{feed="${nats.url}"}`] === 1,
    { timeoutMs: 10000, what: 'the gateway to connect' });
  return gw;
}

/** A client of `gw` subscribed to `topics`, closed by `stops`. */
export async function subscribedClient(gw, label, stops, topics = ['ticker.*']) {
  const c = await connectReady(gw.wsUrl, { label });
  stops.push(() => c.close());
  c.send({ op: 'subscribe', id: 1, topics });
  await c.next('subscribed');
  return c;
}

/** Per topic: in order, and the seqs both clients saw carry the same bytes, with no gap. */
export function assertSameOnBoth(a, b, topics) {
  for (const topic of topics) {
    const ea = liveByTopic(a).get(topic);
    const eb = liveByTopic(b).get(topic);
    assert.deepEqual(orderProblems(ea), [], `${topic} in order on the first gateway`);
    assert.deepEqual(orderProblems(eb), [], `${topic} in order on the second gateway`);
    const lo = Math.max(ea[0].seq, eb[0].seq);
    const hi = Math.min(ea.at(-1).seq, eb.at(-1).seq);
    assert.ok(hi - lo >= 10, `${topic}: overlap ${lo}..${hi}`);
    const wa = ea.filter((e) => e.seq >= lo && e.seq <= hi);
    assert.equal(wa.length, hi - lo + 1, `${topic}: no gap in ${lo}..${hi}`);
    assert.deepEqual(wa, eb.filter((e) => e.seq >= lo && e.seq <= hi), `${topic}: identical on both`);
  }
}

/**
 * A v2 book record (type 2, protocol/README.md "Books on the bus"): `levels` as [side, price, size]
 * with side 'bid' or 'ask' and mantissas as numbers (at 2 and 4 decimals).
 */
export function v2Book(seq, levels, { reset = false, tsNs = BigInt(Date.now()) * 1_000_000n } = {}) {
  const b = Buffer.alloc(21 + 17 * levels.length);
  b[0] = 2;
  b[1] = 4;
  b.writeBigUInt64LE(BigInt(seq), 2);
  b.writeBigInt64LE(BigInt(tsNs), 10);
  b[18] = reset ? 1 : 0;
  b.writeUInt16LE(levels.length, 19);
  levels.forEach(([side, price, size], i) => {
    const at = 21 + 17 * i;
    b[at] = side === 'ask' ? 1 : 0;
    b.writeBigInt64LE(BigInt(price), at + 1);
    b.writeBigInt64LE(BigInt(size), at + 9);
  });
  return v2Record(2, b);
}
