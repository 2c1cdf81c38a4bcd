// Helpers for the Node.js end-to-end tests: start the real tickgate binary on ephemeral ports with
// its own state dir, talk to it with npm `ws` clients, scrape its Prometheus metrics and query its
// HTTPS health endpoints. Nothing here knows about a particular test.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket from 'ws';

export { delay };

export const BIN = process.env.TICKGATE_BIN || '/work/build-e2e-node/tickgate';

/** A fresh temporary directory, removed by the returned cleanup(). */
export function tempDir(prefix = 'tickgate-e2e-') {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Starts tickgate with `flags` (an array of strings) on 127.0.0.1:0 for both listeners and a
 * temporary --state-dir. Resolves once both "listening on" and "metrics on" were logged. `cwd` lets
 * a test name its replay file by a relative path, so the feed's name (and the status frames that
 * carry it) does not depend on a temporary directory.
 */
export async function startGateway(flags = [], { timeoutMs = 15000, threads, wrapper = [], cwd } = {}) {
  const state = tempDir('tickgate-e2e-state-');
  const args = ['--metrics-listen', '127.0.0.1:0', '--state-dir', state.dir];
  if (!flags.map(String).includes('--listen')) args.unshift('--listen', '127.0.0.1:0');
  if (threads !== undefined) args.push('--threads', String(threads));
  args.push(...flags.map(String));
  // CI runs the suite once per backend (scripts/test.sh); a test that names its own keeps it.
  const backend = process.env.TICKGATE_IO_BACKEND;
  if (backend && !args.includes('--io-backend')) args.push('--io-backend', backend);
  // `wrapper` runs the gateway under another command (e.g. prlimit) that execs it.
  const proc = wrapper.length
    ? spawn(wrapper[0], [...wrapper.slice(1), BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(BIN, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (d) => { stdout += d; });

  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() }));
  });

  const gw = {
    proc,
    args,
    stateDir: state.dir,
    wsUrl: undefined,
    wsPort: undefined,
    httpsUrl: undefined,
    metricsUrl: undefined,
    exited,
    get stderr() { return stderr; },
    get stdout() { return stdout; },
    /** SIGTERM (or `signal`), then waits for the exit. Resolves {code, signal, elapsedMs}. */
    async stop({ signal = 'SIGTERM', timeoutMs: stopTimeout = 5000 } = {}) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        state.cleanup();
        const e = await exited;
        return { code: e.code, signal: e.signal, elapsedMs: 0 };
      }
      const t0 = Date.now();
      proc.kill(signal);
      const timer = new Promise((resolve) => setTimeout(() => resolve(null), stopTimeout).unref());
      let e = await Promise.race([exited, timer]);
      if (!e) {
        proc.kill('SIGKILL');
        e = await exited;
        state.cleanup();
        throw new Error(`tickgate did not exit within ${stopTimeout} ms of ${signal}; stderr:\n${tail(stderr)}`);
      }
      state.cleanup();
      return { code: e.code, signal: e.signal, elapsedMs: e.at - t0 };
    },
  };

  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`tickgate did not report its listeners within ${timeoutMs} ms; stderr:\n${tail(stderr)}`));
    }, timeoutMs);
    const check = () => {
      const ws = stderr.match(/listening on (wss?):\/\/([^\s/]+):(\d+)\/ws/);
      const m = stderr.match(/metrics on (http:\/\/[^\s/]+:\d+)\/metrics/);
      if (ws && m) {
        clearTimeout(timer);
        gw.wsPort = Number(ws[3]);
        gw.wsUrl = `${ws[1]}://${ws[2]}:${ws[3]}/ws`;
        gw.httpsUrl = `${ws[1] === 'wss' ? 'https' : 'http'}://${ws[2]}:${ws[3]}`;
        gw.metricsUrl = `${m[1]}/metrics`;
        resolve();
      }
    };
    proc.stderr.on('data', (d) => { stderr += d; check(); });
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`tickgate exited early (code ${code}, signal ${signal}); stderr:\n${tail(stderr)}`));
    });
    proc.on('error', (err) => { clearTimeout(timer); reject(err); });
  }).catch((err) => { state.cleanup(); throw err; });
  return gw;
}

function tail(text, n = 40) {
  return text.split('\n').slice(-n).join('\n');
}

/**
 * A WebSocket client (npm ws) that records every message. Messages are JSON-parsed when possible.
 *   next(pred, timeoutMs): the first message after the cursor for which pred(msg) is true; moves
 *     the cursor past it. Rejects on timeout or when the connection closes first.
 *   closed: resolves {code, reason} when the connection closes.
 */
export class Client {
  constructor(ws, label) {
    this.ws = ws;
    this.label = label;
    this.messages = [];
    this.raw = [];
    this.cursor = 0;
    this.waiters = new Set();
    this.closeInfo = null;
    this.errors = [];
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        for (const w of this.waiters) w.check();
        resolve(this.closeInfo);
      });
    });
    ws.on('error', (err) => { this.errors.push(err); });
    ws.on('message', (data, isBinary) => {
      const text = data.toString();
      let msg;
      try { msg = JSON.parse(text); } catch { msg = undefined; }
      if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) msg = { type: '<unparsable>', text, isBinary };
      Object.defineProperty(msg, '__at', { value: Date.now(), enumerable: false });
      this.messages.push(msg);
      this.raw.push(text);
      for (const w of [...this.waiters]) w.check();
    });
  }

  get isOpen() { return this.ws.readyState === WebSocket.OPEN; }

  send(obj) {
    this.ws.send(typeof obj === 'string' || Buffer.isBuffer(obj) ? obj : JSON.stringify(obj));
  }

  /** Resolves with the next message (after the cursor) matching pred. */
  next(pred = () => true, timeoutMs = 3000) {
    if (typeof pred === 'string') {
      const type = pred;
      pred = (m) => m.type === type;
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        pos: this.cursor,
        check: () => {
          for (; waiter.pos < this.messages.length; ++waiter.pos) {
            const i = waiter.pos;
            if (pred(this.messages[i])) {
              this.cursor = Math.max(this.cursor, i + 1);
              finish();
              resolve(this.messages[i]);
              return;
            }
          }
          if (this.closeInfo) {
            finish();
            reject(new Error(`${this.label}: connection closed (${this.closeInfo.code} ${this.closeInfo.reason}) `
              + `before the expected message; last messages: ${this.lastText()}`));
          }
        },
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`${this.label}: no matching message within ${timeoutMs} ms; last messages: ${this.lastText()}`));
      }, timeoutMs);
      const finish = () => { clearTimeout(timer); this.waiters.delete(waiter); };
      this.waiters.add(waiter);
      waiter.check();
    });
  }

  /** Like next(), but only for messages that arrive from now on. */
  nextNew(pred = () => true, timeoutMs = 3000) {
    this.cursor = this.messages.length;
    return this.next(pred, timeoutMs);
  }

  /** Sends a request and waits for the reply of `type` (and the same id when given). */
  async request(obj, type, timeoutMs = 3000) {
    const from = this.messages.length;
    this.send(obj);
    return this.next((m) => this.messages.indexOf(m) >= from && m.type === type
      && (obj.id === undefined || m.id === obj.id), timeoutMs);
  }

  /**
   * Asks `list` until every one of `topics` is known. A gateway fed over NATS learns a topic from
   * its first record, so subscribing right after start-up can race the feed (unknown_topic).
   */
  async waitForTopics(topics, timeoutMs = 10000) {
    const deadline = Date.now() + timeoutMs;
    for (let id = 900000; ; ++id) {
      const known = (await this.request({ op: 'list', id }, 'topics')).topics;
      if (topics.every((t) => known.includes(t))) return;
      if (Date.now() > deadline) throw new Error(`${this.label}: topics ${topics} not all known after ${timeoutMs} ms: ${known}`);
      await delay(50);
    }
  }

  /** Messages received since index `from` (default: all) that are updates (have topic and seq). */
  updates(from = 0) {
    return this.messages.slice(from).filter(isUpdate);
  }

  lastText(n = 5) {
    return JSON.stringify(this.raw.slice(-n)).slice(0, 1500);
  }

  /** Waits up to timeoutMs for the connection to close; resolves {code, reason} or null. */
  async waitClosed(timeoutMs = 3000) {
    return Promise.race([this.closed, delay(timeoutMs, null, { ref: false })]);
  }

  close(code = 1000) {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      try { this.ws.close(code); } catch { /* ignore */ }
    }
    return this.waitClosed(2000).then((r) => {
      if (!r) this.ws.terminate();
      return r;
    });
  }

  terminate() { this.ws.terminate(); }
}

/** Connects to url (wss with any certificate); resolves once open. `path` replaces /ws (e.g. a query). */
export function connect(url, { label = 'client', timeoutMs = 5000, ...wsOptions } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { rejectUnauthorized: false, ...wsOptions });
    const client = new Client(ws, label);
    const timer = setTimeout(() => { ws.terminate(); reject(new Error(`${label}: connect timeout to ${url}`)); }, timeoutMs);
    ws.once('open', () => { clearTimeout(timer); resolve(client); });
    ws.once('unexpected-response', (req, res) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`${label}: HTTP ${res.statusCode} on upgrade`), { statusCode: res.statusCode }));
    });
    ws.once('error', (err) => { clearTimeout(timer); reject(err); });
  });
}

/** Connects and waits for the welcome message. */
export async function connectReady(url, opts = {}) {
  const c = await connect(url, opts);
  await c.next('welcome', 3000);
  return c;
}

export function isUpdate(m) {
  return typeof m.topic === 'string' && typeof m.seq === 'number' && 'bid' in m;
}

/** GET over http or https (any certificate). Resolves {status, headers, body, json}. */
export function httpGet(url, timeoutMs = 5000) {
  const mod = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.get(url, { rejectUnauthorized: false, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        let json;
        try { json = JSON.parse(body); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, body, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

/**
 * Parses Prometheus text exposition into {'name': v, 'name{a="x",b="y"}': v} with labels sorted
 * by name, so keys are predictable.
 */
export function parsePrometheus(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/);
    if (!m) continue;
    const [, name, , labelText, value] = m;
    let key = name;
    if (labelText) {
      const labels = [];
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
      let lm;
      while ((lm = re.exec(labelText))) labels.push([lm[1], lm[2]]);
      labels.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      if (labels.length) key += `{${labels.map(([k, v]) => `${k}="${v}"`).join(',')}}`;
    }
    out[key] = Number(value);
  }
  return out;
}

/** Scrapes gw.metricsUrl and returns the parsed map. */
export async function scrape(gw) {
  const r = await httpGet(gw.metricsUrl);
  if (r.status !== 200) throw new Error(`GET ${gw.metricsUrl}: HTTP ${r.status}`);
  return parsePrometheus(r.body);
}

/** Polls fn() until it returns a truthy value; returns it, or throws after timeoutMs. */
export async function waitFor(fn, { timeoutMs = 5000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
    await delay(intervalMs);
  }
}

/** One v1 update object (a JSON line) for a replay file; tsNs a BigInt, number or digit string. */
export function replayLine(topic, tsNs, { bid = '100.00', ask = '100.10', last = '100.05', size = '1.5000' } = {}) {
  const body = JSON.stringify({
    topic, ts: 0,
    bid, bid_size: size, ask, ask_size: size, last, last_size: size,
    open_24h: bid, high_24h: ask, low_24h: bid, volume_24h: size,
  });
  return body.replace('"ts":0', `"ts":${BigInt(tsNs)}`);
}

/** Writes lines to FILE in dir; returns its path. */
export function writeReplay(dir, name, lines) {
  const file = path.join(dir, name);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** Checks that seqs of one topic's live updates rise by exactly 1; returns a description of gaps. */
export function seqGaps(updates) {
  const byTopic = new Map();
  const problems = [];
  for (const u of updates) {
    const prev = byTopic.get(u.topic);
    if (prev !== undefined && u.seq !== prev + 1) problems.push(`${u.topic}: ${prev} -> ${u.seq}`);
    byTopic.set(u.topic, u.seq);
  }
  return problems;
}
