// Fault injection under load (issue 19): a gateway serving a crowd of clients while its NATS
// server is killed and restarted, its publisher is killed and replaced, its feed stalls past
// --stale-ms, the gateway itself is stopped for 2 s (SIGSTOP, SIGCONT), and its certificate file
// is replaced by garbage before a SIGHUP. Every client must stay connected through all of it and
// see each topic's seqs only rising; where the upstream kept its seqs (a publisher that continues
// from JetStream, a paused one) not one is missing either.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { connectReady, delay, httpGet, scrape, startGateway, tempDir, waitFor } from './support/gateway.mjs';
import { liveByTopic, orderProblems, startNats, startPublisher } from './support/nats.mjs';

const SANITIZED = process.env.TICKGATE_SANITIZED === '1';
// The load: every client takes every ticker, so the gateway writes CLIENTS × rate frames a second.
const CLIENTS = SANITIZED ? 60 : 150;

/** `n` clients of `gw` subscribed to `topics`, opened 10 at a time; each closed by `stops`. */
async function crowd(gw, n, stops, topics = ['ticker.*']) {
  const clients = [];
  for (let i = 0; i < n; i += 10) {
    const batch = await Promise.all(Array.from({ length: Math.min(10, n - i) },
      (_, j) => connectReady(gw.wsUrl, { label: `client ${i + j}`, timeoutMs: 15000 })));
    for (const c of batch) {
      stops.push(() => c.close());
      c.send({ op: 'subscribe', id: 1, topics });
    }
    await Promise.all(batch.map((c) => c.next('subscribed', 10000)));
    clients.push(...batch);
  }
  return clients;
}

const live = (c) => c.updates().filter((m) => !m.snapshot).length;

// The publisher of the NATS cases: five tickers at 50 updates/s, over bus v2. Every client takes
// every ticker, so this test's own process reads CLIENTS × 50 messages a second. At 100/s, on a
// machine busy with another test (headless Chromium), it fell seconds behind, and a /healthz GET
// it made was closed by the gateway's 5 s handshake timeout before the request arrived ("socket
// hang up", once in a local ctest run).
const PUBLISHER_FLAGS = ['--bus-version', '2', '--symbols', '5', '--rate', '50'];

/**
 * A nats-server, a publisher on it, a two-worker gateway fed by it (`--stale-ms staleMs`) and a
 * crowd of its clients, each stopped by `stops`.
 */
async function natsFedCrowd(stops, staleMs) {
  const nats = await startNats();
  stops.push(() => nats.stop());
  const pub = await startPublisher(nats.url, PUBLISHER_FLAGS);
  stops.push(() => pub.stop());
  // --behind-skip-ms 0: these cases check that no seq goes missing through the upstream's faults.
  // The skip rule trades exactly that for currency when a worker is a quarter second behind its
  // feed's ts, which a machine busy with other tests can make it (the likely cause of one ticker
  // missing in a CI run, 29 -> 31 after the publisher's SIGCONT); the rule has tests of its own.
  const gw = await startGateway(['--feed', nats.url, '--stale-ms', String(staleMs), '--behind-skip-ms', '0'],
    { threads: 2 });
  stops.push(() => gw.stop());
  return { nats, pub, gw, clients: await crowd(gw, CLIENTS, stops) };
}

/** Waits until every client has `more` live updates beyond `counts` (per client, default 0). */
async function everyoneGets(clients, more, what, counts = clients.map(() => 0), timeoutMs = 20000) {
  try {
    await waitFor(() => clients.every((c, i) => live(c) >= counts[i] + more),
      { timeoutMs, intervalMs: 100, what: `${what}: ${more} more updates on every client` });
  } catch (e) {
    const behind = clients.map((c, i) => ({ c, got: live(c) - counts[i] })).filter((x) => x.got < more);
    const sample = behind.slice(0, 5).map((x) => `${x.c.label}: ${x.got} (open ${x.c.isOpen}, ${x.c.closeInfo?.code ?? ''})`);
    throw new Error(`${e.message}; ${behind.length} of ${clients.length} behind, e.g. ${sample.join(', ')}`);
  }
}

/** Every client still open, and every topic's seqs strictly rising (and gap-free if asked). */
function assertIntact(clients, { gapFree = false } = {}) {
  const closed = clients.filter((c) => !c.isOpen).map((c) => `${c.label} (${c.closeInfo?.code} ${c.closeInfo?.reason})`);
  assert.deepEqual(closed, [], 'no client lost its connection');
  for (const c of clients) {
    for (const [topic, entries] of liveByTopic(c)) {
      assert.deepEqual(orderProblems(entries), [], `${c.label}, ${topic}: seqs never repeat or go back`);
      if (!gapFree) continue;
      const gaps = [];
      for (let i = 1; i < entries.length; ++i)
        if (entries[i].seq !== entries[i - 1].seq + 1) gaps.push(`${entries[i - 1].seq} -> ${entries[i].seq}`);
      assert.deepEqual(gaps, [], `${c.label}, ${topic}: not one seq missing`);
    }
  }
}

const counts = (clients) => clients.map(live);

/**
 * A test whose processes and clients (pushed on `stops`) all go when it ends: a crowd left open
 * would go on receiving, and being recorded, through the next tests.
 */
function faultTest(name, fn) {
  test(name, { timeout: 120000 }, async () => {
    const stops = [];
    let timer;
    try {
      // Before the runner's own timeout, so the clients are closed however the case hangs (left
      // open, they record every update until the process runs out of memory).
      await Promise.race([fn(stops), new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('the case took over 100 s')), 100000);
      })]);
    } finally {
      clearTimeout(timer);
      for (const s of stops.reverse()) await s();
    }
  });
}

describe(`fault injection under load: ${CLIENTS} clients of a NATS-fed gateway`, () => {

  faultTest('nats-server SIGKILL and restart: everyone told stale then ok, nobody dropped, nothing repeated', async (stops) => {
    const { nats, gw, clients } = await natsFedCrowd(stops, 500);
    await everyoneGets(clients, 20, 'before the kill');

    // Killed without removing its store: the restarted server takes the same port and JetStream
    // directory (and leaves the directory to the first one's stop).
    await nats.stop({ signal: 'SIGKILL', cleanup: false });
    await Promise.all(clients.map((c) => c.next((m) => m.type === 'status' && m.state === 'stale', 5000)));
    assert.equal((await httpGet(`${gw.httpsUrl}/healthz`)).status, 503, 'not healthy without its feed');
    await delay(1000);
    const restarted = await startNats({ port: nats.port, storeDir: nats.storeDir });
    stops.push(() => restarted.stop());
    await Promise.all(clients.map((c) => c.next((m) => m.type === 'status' && m.state === 'ok', 20000)));
    await everyoneGets(clients, 20, 'after the restart', counts(clients));
    assert.equal((await httpGet(`${gw.httpsUrl}/healthz`)).status, 200);
    assertIntact(clients);
  });

  faultTest('the publisher SIGKILLed and replaced: its successor continues every seq, nobody sees a gap', async (stops) => {
    const { nats, pub: first, clients } = await natsFedCrowd(stops, 5000);
    await everyoneGets(clients, 20, 'before the kill');

    await first.stop('SIGKILL');
    await delay(500);
    const second = await startPublisher(nats.url, PUBLISHER_FLAGS);
    stops.push(() => second.stop());
    assert.match(second.stderr, /seq continues for/, 'the new publisher took its seqs from JetStream');
    await everyoneGets(clients, 30, 'from the new publisher', counts(clients));
    assertIntact(clients, { gapFree: true });
  });

  faultTest('a feed stalled past --stale-ms (publisher SIGSTOPped 1.5 s): stale, then ok, no gap, nobody dropped', async (stops) => {
    const { pub, gw, clients } = await natsFedCrowd(stops, 500);
    await everyoneGets(clients, 20, 'before the stall');

    pub.proc.kill('SIGSTOP');
    try {
      await Promise.all(clients.map((c) => c.next((m) => m.type === 'status' && m.state === 'stale', 5000)));
      assert.equal((await httpGet(`${gw.httpsUrl}/healthz`)).status, 503, 'not healthy while its feed is silent');
      await delay(1000);
    } finally {
      pub.proc.kill('SIGCONT');
    }
    await Promise.all(clients.map((c) => c.next((m) => m.type === 'status' && m.state === 'ok', 10000)));
    await everyoneGets(clients, 20, 'after SIGCONT', counts(clients));
    assert.equal((await httpGet(`${gw.httpsUrl}/healthz`)).status, 200);
    assertIntact(clients, { gapFree: true });
  });
});

describe(`the gateway itself under load: ${CLIENTS} clients, 2 workers, simulator feed`, () => {

  faultTest('SIGSTOP for 2 s then SIGCONT: heartbeats do not close anyone, every stream goes on in order', async (stops) => {
    // A 1 s heartbeat: the stop spans two of them, so a gateway that counted the time it was
    // stopped as the clients' silence would close them all on waking.
    const gw = await startGateway(['--symbols', '5', '--rate', '50', '--heartbeat-ms', '1000'], { threads: 2 });
    stops.push(() => gw.stop());
    await waitFor(async () => (await scrape(gw)).tickgate_topics >= 5, { timeoutMs: 10000, what: 'all 5 topics published' });
    const clients = await crowd(gw, CLIENTS, stops);
    await everyoneGets(clients, 20, 'before the stop');

    gw.proc.kill('SIGSTOP');
    try {
      await delay(2000);
    } finally {
      gw.proc.kill('SIGCONT');
    }
    await everyoneGets(clients, 20, 'after SIGCONT', counts(clients));
    // Two more heartbeats, answered: still nobody closed.
    await delay(2500);
    assertIntact(clients);
    const m = await scrape(gw);
    assert.equal(m.tickgate_heartbeat_timeouts_total ?? 0, 0, 'no client timed out on heartbeats');
    assert.equal(m.tickgate_slow_consumer_disconnects_total, 0, 'no client was closed as slow');
    const fresh = await connectReady(gw.wsUrl, { label: 'after the stop' });
    stops.push(() => fresh.close());
    fresh.send({ op: 'subscribe', id: 1, topics: ['ticker.BTC-USD'] });
    await fresh.next((m) => m.topic === 'ticker.BTC-USD' && !m.snapshot, 5000);
  });

  faultTest('certificate replaced by garbage, then SIGHUP: the old one stays in use, the error logged and counted', async (stops) => {
    // The certificate a first gateway generated, copied: the gateway under test reads it by
    // --cert/--key (a generated one would be generated again rather than refused).
    const dir = tempDir('tickgate-e2e-certs-');
    stops.push(() => dir.cleanup());
    const generator = await startGateway([]);
    const cert = path.join(dir.dir, 'cert.pem');
    const key = path.join(dir.dir, 'key.pem');
    fs.copyFileSync(path.join(generator.stateDir, 'cert.pem'), cert);
    fs.copyFileSync(path.join(generator.stateDir, 'key.pem'), key);
    await generator.stop();

    const gw = await startGateway(['--cert', cert, '--key', key, '--symbols', '5', '--rate', '50'], { threads: 2 });
    stops.push(() => gw.stop());
    await waitFor(async () => (await scrape(gw)).tickgate_topics >= 5, { timeoutMs: 10000, what: 'all 5 topics published' });
    const clients = await crowd(gw, CLIENTS, stops);
    await everyoneGets(clients, 20, 'before the SIGHUP');
    const before = await presentedCertificate(gw.wsPort);

    fs.writeFileSync(cert, '-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n');
    const mark = gw.stderr.length;
    gw.proc.kill('SIGHUP');
    await waitFor(() => /SIGHUP: .*keeping the current certificate/.test(gw.stderr.slice(mark)),
      { timeoutMs: 5000, what: 'the refused reload in the log' });
    const m = await scrape(gw);
    assert.equal(m['tickgate_reloads_total{result="failed",what="certificate"}'], 1, 'the refused reload is counted');
    assert.equal(m['tickgate_reloads_total{result="ok",what="certificate"}'], 0);
    assert.equal(await presentedCertificate(gw.wsPort), before, 'new connections still get the old certificate');
    await everyoneGets(clients, 20, 'after the SIGHUP', counts(clients));
    assertIntact(clients, { gapFree: true });
    const fresh = await connectReady(gw.wsUrl, { label: 'after the SIGHUP' });
    stops.push(() => fresh.close());
  });
});

/** The SHA-256 fingerprint of the certificate the gateway presents to a new TLS connection. */
function presentedCertificate(port) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost', timeout: 10000 }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.end();
      resolve(fp);
    });
    s.once('timeout', () => { s.destroy(); reject(new Error('no TLS handshake within 10 s')); });
    s.once('error', reject);
  });
}
