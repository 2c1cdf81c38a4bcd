// The live ticker page in a real browser (Debian's headless Chromium driven by playwright-core):
// what a new user sees first. Launch options follow /work/shared/notes/browser.md.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
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
  await page.evaluate(() => window.__ws.close());
  await page.locator('#state').filter({ hasText: 'reconnecting' }).waitFor({ timeout: 5000 });
  await page.locator('#state').filter({ hasText: 'live' }).waitFor({ timeout: 10000 });
  const seqBefore = Number(await page.locator('tr[data-topic="ticker.BTC-USD"] .c-seq').textContent());
  await page.waitForFunction((seq) => {
    const row = document.querySelector('tr[data-topic="ticker.BTC-USD"]');
    return Number(row.querySelector('.c-seq').textContent) > seq;
  }, seqBefore, { timeout: 10000 });
});
