// Golden-frame transcripts: a raw WebSocket / HTTP client that sees the exact bytes the gateway
// sends (frame headers included), and a transcript of what was sent and received that is compared
// byte for byte with a file in tests/e2e/golden/ (rewritten instead with UPDATE_GOLDEN=1).
// The point is to catch any change in the bytes on the wire, so nothing here goes through a
// WebSocket or HTTP library that would hide framing, lengths or header order.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { scrape, startGateway, tempDir, waitFor, writeReplay, replayLine } from './gateway.mjs';

export const GOLDEN_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';
// RFC 6455's sample key: fixed, so the 101 response's Sec-WebSocket-Accept is fixed too.
const WS_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
const WAIT_MS = 5000;

const hex = (buf) => [...buf].map((b) => b.toString(16).padStart(2, '0')).join(' ');

/** Bytes as printable ASCII; everything else (and the backslash) escaped, so the file is exact. */
export function show(buf) {
  let s = '';
  for (const b of buf) {
    if (b === 0x5c) s += '\\\\';
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return s;
}

// The only values replaced, each by a placeholder of the same length so that the frame headers
// and Content-Length (kept as sent) still show any change in size:
// - session ids / Engine.IO sids: 16 random hex digits per session (make_session_id); only that
//   exact shape is replaced, so a change of format shows as a diff;
// - every "ts": wall-clock ns; the replay feed stamps updates with the time it publishes them,
//   pong and the ping ack carry the server clock;
// - epochs in subscribe acks ("epochs":{"<topic>":"<16 hex digits>"}): random per feed start;
// - "no update for N ms" in stale status frames: the feed's age when the 50 ms freshness check
//   happened to run (the tests use --stale-ms 100, so N keeps its 3 digits unless the gateway
//   stalls for most of a second).
export function normalize(text, sids = []) {
  let out = text.replace(/("(?:session|sid)":")([0-9a-f]{16})(")/g, (_, a, id, b) => a + 'S'.repeat(id.length) + b);
  for (const sid of sids) out = out.split(`sid=${sid}`).join(`sid=${'S'.repeat(sid.length)}`);
  out = out.replace(/("ts":)(\d+)/g, (_, a, d) => a + 'T'.repeat(d.length));
  out = out.replace(/"epochs":\{[^}]*\}/g, (m) => m.replace(/(":")([0-9a-f]{16})(")/g, (_, a, e, b) => a + 'E'.repeat(e.length) + b));
  out = out.replace(/(no update for )(\d+)( ms)/g, (_, a, d, b) => a + 'N'.repeat(d.length) + b);
  return out;
}

/** Longest-common-subsequence line diff: small files, so O(n*m) is fine and the output is exact. */
function diffLines(expected, actual) {
  const a = expected.split('\n');
  const b = actual.split('\n');
  const dp = Array.from({ length: a.length + 1 }, () => new Array(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; --i)
    for (let j = b.length - 1; j >= 0; --j)
      dp[i][j] = a[i] === b[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
  const out = [];
  let i = 0; let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) { out.push(`  ${a[i]}`); ++i; ++j; }
    else if (i < a.length && (j === b.length || dp[i + 1][j] >= dp[i][j + 1])) out.push(`- ${a[i++]}`);
    else out.push(`+ ${b[j++]}`);
  }
  return out.join('\n');
}

/** What one case sent and received, in order; check() compares it with tests/e2e/golden/NAME.txt. */
export class Transcript {
  constructor(name) { this.name = name; this.lines = []; this.sids = []; }
  note(text) { this.lines.push(`# ${text}`); }
  /** A sid that travels in request URLs, to be replaced there too. */
  sid(value) { this.sids.push(value); }
  line(text) { this.lines.push(text); }
  text() { return this.lines.map((l) => normalize(l, this.sids)).join('\n') + '\n'; }
  check() {
    const file = path.join(GOLDEN_DIR, `${this.name}.txt`);
    const actual = this.text();
    if (UPDATE) {
      mkdirSync(GOLDEN_DIR, { recursive: true });
      writeFileSync(file, actual);
      return;
    }
    assert.ok(existsSync(file), `${file} is missing: generate it with UPDATE_GOLDEN=1 (from a build you trust)`);
    const expected = readFileSync(file, 'utf8');
    if (expected === actual) return;
    assert.fail(`${this.name}: the gateway's bytes differ from ${path.relative(process.cwd(), file)} `
      + `(- expected, + actual):\n${diffLines(expected, actual)}`);
  }
}

const OPNAMES = { 0: 'cont', 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' };

/** One masked client frame. `rsv` and `fin` let a test build frames a library would refuse to. */
export function clientFrame(opcode, payload, { fin = true, rsv = 0, mask = true } = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const len = data.length;
  const ext = len < 126 ? Buffer.alloc(0) : len < 65536 ? Buffer.alloc(2) : Buffer.alloc(8);
  if (len >= 126 && len < 65536) ext.writeUInt16BE(len);
  else if (len >= 65536) ext.writeBigUInt64BE(BigInt(len));
  const b0 = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  const b1 = (mask ? 0x80 : 0) | (len < 126 ? len : len < 65536 ? 126 : 127);
  const body = mask ? Buffer.from(data.map((b, i) => b ^ MASK[i % 4])) : data;
  return Buffer.concat([Buffer.from([b0, b1]), ext, mask ? MASK : Buffer.alloc(0), body]);
}

export const closePayload = (code, reason = '') => Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]);

function dial(port, useTls) {
  return new Promise((resolve, reject) => {
    const sock = useTls
      ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false })
      : net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`connect to ${port} timed out`)); }, WAIT_MS);
    sock.once(useTls ? 'secureConnect' : 'connect', () => { clearTimeout(timer); resolve(sock); });
    sock.once('error', (err) => { clearTimeout(timer); reject(err); });
  });
}

/** Splits "head\r\n\r\n" off buf; null until the head is complete. */
function splitHead(buf) {
  const end = buf.indexOf('\r\n\r\n');
  return end < 0 ? null : { head: buf.subarray(0, end).toString('latin1'), rest: buf.subarray(end + 4) };
}

/**
 * A WebSocket client on a raw socket. Every server frame is appended to the transcript as it
 * arrives (`skip(frame)` true leaves it out); expect(n) waits for the next n frames.
 */
export class RawWs {
  static async open(t, { port, tls: useTls = false, path: urlPath, recordHandshake = false }) {
    const sock = await dial(port, useTls);
    const ws = new RawWs(t, sock);
    t.line(`C> GET ${urlPath}${useTls ? ' (TLS)' : ''}`);
    sock.write(`GET ${urlPath} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
      + `Sec-WebSocket-Key: ${WS_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    const head = await ws.#wait(() => ws.head, 'the 101 response');
    if (recordHandshake) for (const l of head.split('\r\n')) t.line(`H< ${l}`);
    assert.match(head, /^HTTP\/1\.1 101 /, `upgrade refused: ${head}`);
    return ws;
  }

  constructor(t, sock) {
    this.t = t;
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.head = null;
    this.frames = [];
    this.cursor = 0;
    this.ended = false;
    this.skip = () => false;
    this.wake = () => {};
    this.endedPromise = new Promise((resolve) => sock.once('close', () => { this.ended = true; this.wake(); resolve(); }));
    sock.on('error', () => {});
    sock.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); this.#parse(); this.wake(); });
  }

  #parse() {
    if (this.head === null) {
      const split = splitHead(this.buf);
      if (!split) return;
      this.head = split.head;
      this.buf = split.rest;
    }
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      let len = b[1] & 0x7f;
      let hl = 2;
      if (len === 126) { if (b.length < 4) return; len = b.readUInt16BE(2); hl = 4; }
      else if (len === 127) { if (b.length < 10) return; len = Number(b.readBigUInt64BE(2)); hl = 10; }
      if (b[1] & 0x80) hl += 4;  // a masked server frame is a bug: keep its key in the header shown
      if (b.length < hl + len) return;
      const frame = { opcode: b[0] & 0x0f, header: b.subarray(0, hl), payload: b.subarray(hl, hl + len) };
      this.buf = b.subarray(hl + len);
      this.frames.push(frame);
      if (!this.skip(frame)) {
        const name = (OPNAMES[frame.opcode] ?? `op${frame.opcode}`).padEnd(6);
        this.t.line(`S< ${name} ${hex(frame.header)} | ${show(frame.payload)}`);
      }
      if (frame.opcode === 8 && !this.closeSent) this.#echoClose(frame.payload);
    }
  }

  // RFC 6455: the client answers the server's close with its own, echoing the code.
  #echoClose(payload) {
    this.closeSent = true;
    const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1000;
    this.sock.write(clientFrame(8, closePayload(code)));
  }

  async #wait(ready, what, timeoutMs = WAIT_MS) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = ready();
      if (v) return v;
      if (this.ended) throw new Error(`${this.t.name}: connection ended before ${what}; last: ${this.t.lines.slice(-3).join(' / ')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.t.name}: no ${what} within ${timeoutMs} ms; last: ${this.t.lines.slice(-3).join(' / ')}`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => { clearTimeout(timer); resolve(); };
      });
    }
  }

  /** The next n frames (recorded or not). */
  async expect(n, timeoutMs = WAIT_MS) {
    const want = this.cursor + n;
    await this.#wait(() => this.frames.length >= want, `${n} more frame(s)`, timeoutMs);
    const got = this.frames.slice(this.cursor, want);
    this.cursor = want;
    return got;
  }

  /** Skips frames up to and including the first matching pred; returns it. */
  async until(pred, what, timeoutMs = WAIT_MS) {
    const frame = await this.#wait(() => this.frames.slice(this.cursor).find(pred), what, timeoutMs);
    this.cursor = this.frames.indexOf(frame) + 1;
    return frame;
  }

  /** Sends frames in one write (so the server reads them together), recording each. */
  send(...frames) {
    const bytes = [];
    for (const f of frames) {
      const { opcode = 1, payload, label, ...opts } = typeof f === 'string' ? { payload: f } : f;
      const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
      const odd = Object.entries(opts).map(([k, v]) => `${k}=${v}`).join(',');
      this.t.line(`C> ${(label ?? OPNAMES[opcode]).padEnd(6)} ${show(data)}${odd ? `  [${odd}]` : ''}`);
      bytes.push(clientFrame(opcode, data, opts));
      if (opcode === 8) this.closeSent = true;
    }
    this.sock.write(Buffer.concat(bytes));
  }

  /** Waits for the server to close TCP (after the close handshake). */
  async closed(timeoutMs = WAIT_MS) {
    await this.#wait(() => this.ended, 'the end of the connection', timeoutMs);
    this.t.line('S< (connection closed)');
  }

  destroy() { this.sock.destroy(); }
}

/**
 * One HTTP request on its own connection. The request line is recorded now; the whole response
 * (status line, headers, body) when `await t.response(req)` asks for it, so concurrent requests
 * land in the transcript in the test's order, not in arrival order.
 */
export function httpRequest(t, { port, useTls = false, method = 'GET', path: urlPath, headers = [], body }) {
  const data = body === undefined ? null : Buffer.from(body);
  t.line(`C> ${method} ${urlPath}${headers.length ? ` [${headers.join('; ')}]` : ''}`);
  if (data) t.line(`C>   body ${show(data)}`);
  const lines = [`${method} ${urlPath} HTTP/1.1`, `Host: 127.0.0.1:${port}`, ...headers];
  if (data) lines.push('Content-Type: text/plain;charset=UTF-8', `Content-Length: ${data.length}`);
  const response = (async () => {
    const sock = await dial(port, useTls);
    sock.write(Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n'), data ?? Buffer.alloc(0)]));
    return new Promise((resolve, reject) => {
      let buf = Buffer.alloc(0);
      const timer = setTimeout(() => { sock.destroy(); reject(new Error(`${method} ${urlPath}: no response within ${WAIT_MS} ms`)); }, WAIT_MS);
      const tryParse = (final) => {
        const split = splitHead(buf);
        if (!split) return final && reject(new Error(`${method} ${urlPath}: connection closed without a response`));
        const m = split.head.match(/\r\ncontent-length: *(\d+)/i);
        const length = m ? Number(m[1]) : null;
        if (length === null ? !final : split.rest.length < length) return;
        clearTimeout(timer);
        sock.destroy();
        const status = Number(split.head.split(' ')[1]);
        resolve({ status, head: split.head, body: length === null ? split.rest : split.rest.subarray(0, length) });
      };
      sock.on('data', (d) => { buf = Buffer.concat([buf, d]); tryParse(false); });
      sock.on('close', () => tryParse(true));
      sock.on('error', () => {});
    });
  })();
  return { method, urlPath, response };
}

Transcript.prototype.response = async function response(req) {
  const r = await req.response;
  for (const l of r.head.split('\r\n')) this.line(`H< ${l}`);
  this.line(`B< ${show(r.body)}`);
  return { ...r, text: r.body.toString('utf8') };
};

/**
 * Starts a gateway fed by a replay file written to a fresh directory that is also its working
 * directory, so the feed is named "replay:<name>" whatever the directory. Resolves once the feed
 * has published `published` lines (by default all: lines sharing one ts go out at once), so
 * what a client sees does not depend on how fast the gateway started.
 */
export async function startReplayGateway(name, lines, flags = [], published = lines.length) {
  const dir = tempDir('tickgate-golden-');
  writeReplay(dir.dir, name, lines);
  const gw = await startGateway(['--threads', '1', '--feed', `replay:${name}`, ...flags], { cwd: dir.dir })
    .catch((err) => { dir.cleanup(); throw err; });
  const stop = gw.stop.bind(gw);
  gw.stop = async (opts) => { try { return await stop(opts); } finally { dir.cleanup(); } };
  gw.dir = dir.dir;
  try {
    await waitFor(async () => (await feedUpdates(gw)) >= published, { what: `${name}: ${published} lines published` });
  } catch (err) {
    await gw.stop().catch(() => {});
    throw err;
  }
  return gw;
}

/** The number of updates the feed has published so far (tickgate_feed_updates_total). */
export async function feedUpdates(gw) {
  const m = await scrape(gw);
  return Object.entries(m).filter(([k]) => k.startsWith('tickgate_feed_updates_total')).reduce((s, [, v]) => s + v, 0);
}

/**
 * Starts a replay gateway and runs `quiet` while only the first `firstCount` lines have been
 * published; the rest follow `gapMs` later. A run where the feed got ahead of the client (an
 * overloaded machine) is detected, not guessed: it is discarded and tried again with a longer gap.
 */
export async function withQuietStart(name, makeLines, firstCount, flags, quiet, rest) {
  for (let attempt = 0, gapMs = 1500; ; ++attempt, gapMs *= 2) {
    const gw = await startReplayGateway(`${name}.jsonl`, makeLines(BigInt(gapMs) * 1_000_000n), flags, firstCount);
    try {
      const state = await quiet(gw);
      if ((await feedUpdates(gw)) === firstCount) return await rest(gw, state);
      assert.ok(attempt < 2, `${name}: the replay's later lines kept coming before the client was set up`);
    } finally {
      await gw.stop().catch(() => {});
    }
  }
}

/**
 * A polling GET known to be held by the gateway before the next request is sent: the gateway
 * counts the HTTP connection when it routes the request, and the polling session (same worker,
 * --threads 1) takes it in a handler queued right then, ahead of any request sent after.
 */
export async function heldGet(t, gw, urlPath, extra = {}) {
  const count = async () => (await scrape(gw))['tickgate_connections_total{result="http"}'] ?? 0;
  const before = await count();
  const req = httpRequest(t, { port: gw.wsPort, path: urlPath, ...extra });
  await waitFor(async () => (await count()) > before, { what: `the gateway to take ${urlPath}` });
  return req;
}

const SEC = 1_000_000_000n;
export const T0 = 1_764_090_000n * SEC;
// Three topics on two channels with different decimals, all at one ts: the replay publishes them
// at once at start and then never again, so nothing live can interleave with the replies.
export const SNAP = [
  replayLine('ticker.BTC-USD', T0, { bid: '64999.50', ask: '65000.00', last: '64999.75', size: '0.2500' }),
  replayLine('ticker.ETH-USD', T0, { bid: '3400.125', ask: '3400.250', last: '3400.200', size: '12.00' }),
  replayLine('perp.BTC-USD', T0, { bid: '65010.5', ask: '65011.0', last: '65010.5', size: '3' }),
];

// 20 topics of about 290 bytes each: their snapshots cannot all fit a 4096-byte send backlog.
export const MANY = Array.from({ length: 20 }, (_, i) => replayLine(`ticker.C${i}-USD`, T0));

// For withQuietStart: BTC once at start; BTC again and ETH (a topic new to the gateway, covered
// by a pattern) one gap later.
export const liveLines = (gap) => [
  replayLine('ticker.BTC-USD', T0, { bid: '64999.50', ask: '65000.00', last: '64999.75', size: '0.2500' }),
  replayLine('ticker.BTC-USD', T0 + gap, { bid: '65001.00', ask: '65001.50', last: '65001.25', size: '1.0000' }),
  replayLine('ticker.ETH-USD', T0 + gap, { bid: '3400.1', ask: '3400.2', last: '3400.2', size: '7.5' }),
];
// One update, a silence longer than --stale-ms, one more, silence again: stale, ok, stale.
export const statusLines = (gap) => [replayLine('ticker.BTC-USD', T0), replayLine('ticker.BTC-USD', T0 + gap)];

export { replayLine };
