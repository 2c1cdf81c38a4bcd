// The live ticker page in a real browser (Debian's headless Chromium driven by playwright-core):
// what a new user sees first. Launch options follow /work/shared/notes/browser.md.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startGateway, tempDir } from './support/gateway.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = process.env.TICKGATE_ARTIFACTS || path.resolve('artifacts');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let gw;
let context;
let profile;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM} (scripts/setup.sh installs Debian's chromium)`);
  gw = await startGateway(['--symbols', '8', '--rate', '400']);
  profile = tempDir('tickgate-chromium-');
  context = await chromium.launchPersistentContext(profile.dir, {
    executablePath: CHROMIUM, headless: true, ignoreHTTPSErrors: true, args: ARGS,
  });
});

after(async () => {
  await context?.close();
  profile?.cleanup();
  await gw?.stop();
});

test('the live page shows BTC-USD rows whose prices change, with seq and latency', async () => {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(gw.httpsUrl + '/');
  assert.equal(await page.title(), 'tickgate · live tickers');
  const state = page.locator('#state');
  await state.filter({ hasText: 'live' }).waitFor({ timeout: 10000 });

  const btc = page.locator('tr[data-topic="ticker.BTC-USD"]');
  await btc.waitFor({ timeout: 10000 });
  const firstSeq = Number(await btc.locator('.c-seq').textContent());
  const firstBid = await btc.locator('.c-bid').textContent();
  assert.match(firstBid, /^\d+\.\d{2}$/, 'BTC-USD bid is an exact decimal with 2 places');

  // Prices move within a few seconds: the seq rises and the bid or last changes.
  await page.waitForFunction((seq) => {
    const row = document.querySelector('tr[data-topic="ticker.BTC-USD"]');
    return row && Number(row.querySelector('.c-seq').textContent) >= seq + 5;
  }, firstSeq, { timeout: 10000 });
  const later = {
    bid: await btc.locator('.c-bid').textContent(),
    last: await btc.locator('.c-last').textContent(),
  };
  assert.ok(later.bid !== firstBid || later.last !== firstBid, 'prices changed');
  const latency = await btc.locator('.c-latency').textContent();
  assert.match(latency, /^-?\d+\.\d ms$/);
  assert.ok(Math.abs(parseFloat(latency)) < 2000, `latency ${latency} is plausible`);

  // The three default topics are there, and "All tickers" adds the rest.
  assert.equal(await page.locator('#rows tr').count(), 3);
  await page.click('#all');
  await page.waitForFunction(() => document.querySelectorAll('#rows tr').length === 8, null, { timeout: 10000 });

  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'live-page.png'), fullPage: true });
  assert.deepEqual(errors, [], 'no script errors on the page');
});

test('the page reconnects after the connection drops and resubscribes', async () => {
  const page = await context.newPage();
  await page.goto(gw.httpsUrl + '/');
  await page.locator('tr[data-topic="ticker.BTC-USD"]').waitFor({ timeout: 10000 });
  // Close the page's socket from inside, as a network drop would.
  await page.evaluate(() => {
    const orig = WebSocket.prototype.send;
    // Find the live socket via a send wrapper: the page keeps it in a closure.
    WebSocket.prototype.send = function (d) { window.__ws = this; return orig.call(this, d); };
  });
  await page.click('#all');  // makes the page send, exposing its socket
  await page.waitForFunction(() => !!window.__ws);
  // The page shows "reconnecting" for only 250 ms before it is live again, shorter than a polling
  // check can be sure to catch on a busy machine: record every state it shows instead.
  await page.evaluate(() => {
    window.__states = [];
    const el = document.getElementById('state');
    new MutationObserver(() => window.__states.push(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true });
  });
  await page.evaluate(() => window.__ws.close());
  await page.waitForFunction(() => {
    const dropped = window.__states.findIndex((s) => s.startsWith('reconnecting'));
    return dropped >= 0 && window.__states.slice(dropped + 1).includes('live');
  }, null, { timeout: 10000 });
  const seqBefore = Number(await page.locator('tr[data-topic="ticker.BTC-USD"] .c-seq').textContent());
  await page.waitForFunction((seq) => {
    const row = document.querySelector('tr[data-topic="ticker.BTC-USD"]');
    return Number(row.querySelector('.c-seq').textContent) > seq;
  }, seqBefore, { timeout: 10000 });
});

// A page of another origin (a tiny static server on 127.0.0.1, test-only) loading socket.io-client's
// browser bundle from node_modules: the default transports make it poll cross-origin (CORS), then
// upgrade to wss.
const BUNDLE = fileURLToPath(new URL('../../node_modules/socket.io-client/dist/socket.io.min.js', import.meta.url));

function serveStatic(files) {
  const server = http.createServer((req, res) => {
    const file = files[new URL(req.url, 'http://x').pathname];
    if (!file) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'Content-Type': file.type, 'Cache-Control': 'no-store' }).end(file.body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

test('a page using socket.io-client receives ticker events, polling first, then over the upgraded WebSocket', async () => {
  const page_html = `<!doctype html><meta charset="utf-8"><title>socket.io page</title>
<script src="/socket.io.min.js"></script>
<script>
  window.events = []; window.transports = [];
  const socket = io(${JSON.stringify(gw.httpsUrl)}, { reconnection: false });
  socket.on('connect', () => {
    window.transports.push(socket.io.engine.transport.name);
    socket.emit('subscribe', ['ticker.BTC-USD'], (ack) => { window.ack = ack; });
  });
  socket.io.engine.on('upgrade', (t) => window.transports.push(t.name));
  socket.on('ticker', (u) => window.events.push({ topic: u.topic, seq: u.seq, snapshot: u.snapshot, bid: u.bid }));
  socket.on('connect_error', (e) => { window.connectError = String(e && e.message); });
</script>`;
  const server = await serveStatic({
    '/': { type: 'text/html; charset=utf-8', body: page_html },
    '/socket.io.min.js': { type: 'text/javascript', body: readFileSync(BUNDLE) },
  });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  try {
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await page.waitForFunction(() => window.events.length >= 6 || window.connectError, null, { timeout: 15000 });
    const state = await page.evaluate(() => ({ events: window.events, transports: window.transports,
      ack: window.ack, connectError: window.connectError }));
    assert.equal(state.connectError, undefined);
    assert.deepEqual(state.ack, { topics: ['ticker.BTC-USD'] });
    assert.equal(state.transports[0], 'polling', 'connected over polling first (cross-origin, so CORS worked)');
    assert.equal(state.events[0].snapshot, true);
    assert.ok(state.events.every((u) => u.topic === 'ticker.BTC-USD'));
    for (let i = 2; i < state.events.length; i++) assert.ok(state.events[i].seq > state.events[i - 1].seq, 'seq rises');
    assert.match(state.events[1].bid, /^\d+\.\d{2}$/);
    await page.waitForFunction(() => window.transports.includes('websocket'), null, { timeout: 10000 });
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
    server.closeAllConnections();  // Chromium keeps its kept-alive connection open past the page
    await new Promise((resolve) => server.close(resolve));
  }
});
