// The reconnect-storm benchmark (bench/README.md, "Resume"): N clients on trade and ticker topics
// lose their connections at once, stay away --gap-ms, and reconnect at once, either resuming with
// `since` (variant "resume": the history replays what they missed) or subscribing afresh (variant
// "fresh": a snapshot for tickers, the trades in between lost). Both variants run interleaved in one
// run against one gateway, under this one load generator (npm `ws`), so their difference is what
// resuming costs or saves; the absolute times include this client's own TLS handshakes.
//
// Reported per variant (medians over rounds): the time from the reconnect to the moment the last
// client has caught up (for every topic a message produced after the reconnect began, the missed
// ones before it), the per-client p50/p99 of that, the gateway's CPU seconds over the storm, and
// what the clients saw: seqs missed and seqs received twice.
//
//   node bench/scenarios/resume.mjs [--connections 1000] [--rounds 3] [--gap-ms 1000]
//        [--rate 200] [--trade-rate 200] [--symbols 20] [--build DIR] [--out DIR]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');

function parseArgs(argv) {
  const a = {
    connections: 1000, rounds: 3, gapMs: 1000, rate: 200, tradeRate: 200, symbols: 20,
    history: 5000, build: process.env.TICKGATE_BUILD_DIR || path.join(root, 'build-bench'),
    out: path.join(root, 'bench', 'results'),
  };
  const names = { '--connections': 'connections', '--rounds': 'rounds', '--gap-ms': 'gapMs', '--rate': 'rate',
    '--trade-rate': 'tradeRate', '--symbols': 'symbols', '--history': 'history', '--build': 'build', '--out': 'out' };
  for (let i = 2; i < argv.length; i += 2) {
    const key = names[argv[i]];
    if (!key || argv[i + 1] === undefined) {
      console.error(`usage: resume.mjs ${Object.keys(names).map((n) => `[${n} X]`).join(' ')}`);
      process.exit(2);
    }
    a[key] = ['build', 'out'].includes(key) ? path.resolve(argv[i + 1]) : Number(argv[i + 1]);
  }
  return a;
}

const a = parseArgs(process.argv);
process.env.TICKGATE_BIN = process.env.TICKGATE_BIN || path.join(a.build, 'tickgate');
if (!fs.existsSync(process.env.TICKGATE_BIN)) {
  console.error(`no tickgate at ${process.env.TICKGATE_BIN}: build it (cmake --build ${a.build} --target tickgate)`);
  process.exit(2);
}
const { startGateway, delay } = await import('../../tests/e2e/support/gateway.mjs');
const { default: WebSocket } = await import('ws');

const log = (m) => console.error(`${new Date().toISOString().slice(11, 19)} ${m}`);

function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;  // utime + stime, in clock ticks of 10 ms
}

const quantile = (sorted, q) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN;
const median = (v) => quantile([...v].sort((x, y) => x - y), 0.5);

/** One benchmark client: its topics, the last seq it saw of each, and the epochs from its acks. */
class Client {
  constructor(url, topics) {
    this.url = url;
    this.topics = topics;
    this.last = new Map();
    this.epochs = {};
    this.missed = { trade: 0, ticker: 0 };
    this.duplicates = 0;
  }

  /** Opens and subscribes; with `resume`, asks for what came after this.last. Resolves on the ack. */
  open({ resume, since0 }) {
    this.caughtUp = new Set();
    this.since0 = since0;  // ns: a message produced after this is live, not missed
    this.doneAt = 0;
    this.recovered = null;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, { rejectUnauthorized: false, perMessageDeflate: false });
      this.ws = ws;
      ws.on('error', reject);
      ws.on('open', () => {
        const req = { op: 'subscribe', id: 1, topics: this.topics };
        if (resume) {
          req.since = {};
          for (const t of this.topics)
            if (this.last.has(t) && this.epochs[t]) req.since[t] = { epoch: this.epochs[t], seq: this.last.get(t) };
        }
        ws.send(JSON.stringify(req));
      });
      ws.on('message', (data) => {
        const m = JSON.parse(data);
        if (m.type === 'subscribed') {
          Object.assign(this.epochs, m.epochs || {});
          this.recovered = m.recovered || {};
          return resolve();
        }
        if (m.seq === undefined || !this.topics.includes(m.topic)) return;
        const prev = this.last.get(m.topic);
        if (prev !== undefined) {
          if (m.seq <= prev) { this.duplicates++; return; }
          // A snapshot after a fresh subscribe jumps by design; what it skipped of a trade is lost.
          // Tickers a lagging worker skipped (superseded by a newer one) count apart: by design.
          if (m.seq > prev + 1) this.missed[m.type === 'trade' ? 'trade' : 'ticker'] += m.seq - prev - 1;
        }
        this.last.set(m.topic, m.seq);
        if (this.since0 && !this.caughtUp.has(m.topic) && m.ts >= this.since0) {
          this.caughtUp.add(m.topic);
          if (this.caughtUp.size === this.topics.length) this.doneAt = performance.now();
        }
      });
    });
  }

  drop() {
    this.ws.removeAllListeners('message');
    this.ws.on('error', () => {});
    this.ws.terminate();
  }
}

async function openAll(clients, opts, concurrency = clients.length) {
  let next = 0;
  const lane = async () => {
    while (next < clients.length) await clients[next++].open(opts);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, clients.length) }, lane));
}

async function storm(gw, clients, variant) {
  for (const c of clients) {
    c.missed = { trade: 0, ticker: 0 };
    c.duplicates = 0;
  }
  // The gateway's CPU rate at rest with every client connected, to tell the storm's share.
  const rest0 = cpuSeconds(gw.proc.pid);
  await delay(1000);
  const restPerS = cpuSeconds(gw.proc.pid) - rest0;
  for (const c of clients) c.drop();
  await delay(a.gapMs);
  const cpu0 = cpuSeconds(gw.proc.pid);
  const t0 = performance.now();
  const since0 = Date.now() * 1e6;  // ns: messages produced from here on are live
  await openAll(clients, { resume: variant === 'resume', since0 });
  const acked = performance.now() - t0;
  const deadline = Date.now() + 30000;
  while (clients.some((c) => !c.doneAt) && Date.now() < deadline) await delay(5);
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(gw.proc.pid) - cpu0;
  const perClient = clients.filter((c) => c.doneAt).map((c) => c.doneAt - t0).sort((x, y) => x - y);
  const recoveredAll = clients.every((c) => Object.values(c.recovered || {}).length > 0 &&
    Object.values(c.recovered).every(Boolean));
  return {
    variant,
    all_caught_up_ms: clients.every((c) => c.doneAt) ? Math.max(...perClient) : null,
    all_acked_ms: acked,
    p50_ms: quantile(perClient, 0.5),
    p99_ms: quantile(perClient, 0.99),
    gateway_cpu_s: cpu,
    gateway_cpu_over_rest_s: cpu - restPerS * elapsed,
    missed_trades: clients.reduce((n, c) => n + c.missed.trade, 0),
    missed_tickers: clients.reduce((n, c) => n + c.missed.ticker, 0),
    duplicate_seqs: clients.reduce((n, c) => n + c.duplicates, 0),
    every_topic_recovered: variant === 'resume' ? recoveredAll : undefined,
  };
}

const gw = await startGateway(['--symbols', a.symbols, '--rate', a.rate, '--trade-rate', a.tradeRate,
  '--history', a.history, '--max-connections', a.connections * 2, '--max-connections-per-ip', a.connections * 2],
{ threads: 1 });
try {
  const symbols = [];
  {
    const probe = new WebSocket(gw.wsUrl, { rejectUnauthorized: false });
    const list = await new Promise((resolve, reject) => {
      probe.on('error', reject);
      probe.on('open', () => probe.send(JSON.stringify({ op: 'list', id: 2 })));
      probe.on('message', (d) => { const m = JSON.parse(d); if (m.type === 'topics') resolve(m.topics); });
    });
    probe.terminate();
    for (const t of list) if (t.startsWith('trade.')) symbols.push(t.slice('trade.'.length));
  }
  if (symbols.length < 2) throw new Error('the gateway lists no trade topics');
  const clients = Array.from({ length: a.connections }, (_, i) => {
    const s1 = symbols[i % symbols.length];
    const s2 = symbols[(i + 1) % symbols.length];
    return new Client(gw.wsUrl, [`trade.${s1}`, `trade.${s2}`, `ticker.${s1}`, `ticker.${s2}`]);
  });
  log(`connecting ${a.connections} clients (4 topics each) to ${gw.wsUrl}`);
  await openAll(clients, {}, 50);
  await delay(1000);
  const runs = [];
  for (let r = 0; r < a.rounds; r++)
    for (const variant of ['resume', 'fresh']) {
      const run = await storm(gw, clients, variant);
      log(`round ${r + 1} ${variant}: all caught up in ${run.all_caught_up_ms?.toFixed(0)} ms (acks ${run.all_acked_ms.toFixed(0)} ms), ` +
        `gateway ${run.gateway_cpu_s.toFixed(2)} s CPU, missed trades ${run.missed_trades} tickers ${run.missed_tickers}, ` +
        `duplicates ${run.duplicate_seqs}, every topic recovered: ${run.every_topic_recovered}`);
      runs.push({ round: r + 1, ...run });
      await delay(500);
    }
  const summary = {};
  for (const variant of ['resume', 'fresh']) {
    const v = runs.filter((x) => x.variant === variant);
    summary[variant] = {
      all_caught_up_ms: median(v.map((x) => x.all_caught_up_ms ?? Infinity)),
      p50_ms: median(v.map((x) => x.p50_ms)),
      p99_ms: median(v.map((x) => x.p99_ms)),
      gateway_cpu_s: median(v.map((x) => x.gateway_cpu_s)),
      gateway_cpu_over_rest_s: median(v.map((x) => x.gateway_cpu_over_rest_s)),
      missed_trades: median(v.map((x) => x.missed_trades)),
      missed_tickers: median(v.map((x) => x.missed_tickers)),
      duplicate_seqs: Math.max(...v.map((x) => x.duplicate_seqs)),
    };
  }
  const result = { scenario: 'resume', args: a, loadavg: fs.readFileSync('/proc/loadavg', 'utf8').trim(), runs, summary };
  fs.mkdirSync(a.out, { recursive: true });
  const file = path.join(a.out, `resume-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify(result, null, 2));
  console.log('variant  all caught up  p50     p99     gateway CPU (over rest)  missed trades  tickers  duplicates');
  for (const [variant, s] of Object.entries(summary))
    console.log(`${variant.padEnd(8)} ${s.all_caught_up_ms.toFixed(0).padStart(8)} ms  ${s.p50_ms.toFixed(0).padStart(4)} ms ` +
      `${s.p99_ms.toFixed(0).padStart(4)} ms  ${s.gateway_cpu_s.toFixed(2)} s (${s.gateway_cpu_over_rest_s.toFixed(2)} s)` +
      `  ${String(s.missed_trades).padStart(12)}  ${String(s.missed_tickers).padStart(7)}  ${s.duplicate_seqs}`);
  log(`wrote ${file}`);
} catch (e) {
  console.error(`gateway stderr (tail):\n${gw.stderr.split('\n').slice(-15).join('\n')}`);
  throw e;
} finally {
  await gw.stop();
}
