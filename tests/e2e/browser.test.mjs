// The live ticker page in a real browser (Debian's headless Chromium driven by playwright-core):
// what a new user sees first, and the book panel a click on a symbol opens, checked against an
// independent npm `ws` client's book (support/book.mjs). Launch options follow
// /work/shared/notes/browser.md.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { connectReady, delay, startGateway, tempDir, waitFor } from './support/gateway.mjs';
import { BookKeeper, compareDecimal, crc32 } from './support/book.mjs';
import { withoutEpochs } from './support/checks.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = process.env.TICKGATE_ARTIFACTS || path.resolve('artifacts');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let gw;
let context;
let profile;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM} (scripts/setup.sh installs Debian's chromium)`);
  // Books and trades on: the ticker page must work beside them, and the book panel needs them
  // (400 book changes/s over 8 symbols: BTC-USD's top 10 changes ~50 times a second). Twice that,
  // the page fell behind when the machine was busy with other tests (Playwright reports every
  // frame of a watched page to the test process too), and its clicks waited out their timeouts.
  gw = await startGateway(['--symbols', '8', '--rate', '200', '--book-rate', '400', '--trade-rate', '50']);
  profile = tempDir('tickgate-chromium-');
  context = await chromium.launchPersistentContext(profile.dir, {
    executablePath: CHROMIUM, headless: true, ignoreHTTPSErrors: true, args: ARGS,
    viewport: { width: 1440, height: 900 },
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
  await page.close();
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
  await page.close();
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
    assert.deepEqual(withoutEpochs(state.ack), { topics: ['ticker.BTC-USD'] });
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

// ---- The book panel ----

/**
 * An npm `ws` client following the book and trades of `symbols` on its own connection: every book
 * message goes through a ReferenceBook (chain and checksum checked), and the book's checksum string
 * is kept per seq, so a page's ladder at seq N can be compared with what this client held at N.
 */
async function referenceClient(symbols, gateway = gw) {
  const c = await connectReady(gateway.wsUrl, { label: 'reference' });
  const keeper = new BookKeeper();
  const states = new Map();  // book topic -> Map(seq -> checksum string)
  const trades = new Map();  // trade topic -> trades in arrival order
  const errors = [];
  c.ws.on('message', (data) => {
    const m = JSON.parse(data.toString());
    try {
      if (keeper.apply(m)) {
        if (!states.has(m.topic)) states.set(m.topic, new Map());
        states.get(m.topic).set(m.seq, keeper.get(m.topic).checksumString());
      }
    } catch (e) {
      errors.push(e.message);
    }
    if (m.type === 'trade') {
      if (!trades.has(m.topic)) trades.set(m.topic, []);
      trades.get(m.topic).push(m);
    }
  });
  await c.request({ op: 'subscribe', id: 1, topics: symbols.flatMap((s) => [`book.${s}`, `trade.${s}`]) }, 'subscribed');
  return { c, states, trades, errors };
}

/** What the panel shows, read in one go (one rendered frame). Ladder rows top to bottom. */
function readPanel(page) {
  return page.evaluate(() => {
    const contentWidth = (el) => {
      const style = getComputedStyle(el);
      return el.getBoundingClientRect().width - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    };
    const levels = (id) => [...document.querySelectorAll(`#${id} tr`)].filter((tr) => !tr.hidden).map((tr) => ({
      price: tr.querySelector('.price').textContent,
      size: tr.querySelector('.size').textContent,
      bar: tr.querySelector('.bar').getBoundingClientRect().width,
      cell: contentWidth(tr.querySelector('.bar-cell')),
    }));
    const tape = [...document.querySelectorAll('#tape tr')].filter((tr) => !tr.hidden).map((tr) => {
      const [time, side, price, size] = tr.querySelectorAll('td');
      return { time: time.textContent, side: side.textContent, color: getComputedStyle(side).color,
        price: price.textContent, size: size.textContent };
    });
    return {
      visible: document.getElementById('panel').checkVisibility(),
      // The ticker row the panel is shown under.
      under: document.getElementById('panel-row').previousElementSibling?.dataset.topic,
      symbol: document.getElementById('book-symbol').textContent,
      topic: document.getElementById('book-topic').textContent,
      status: document.getElementById('book-status').textContent,
      note: document.getElementById('book-note').textContent,
      spread: document.getElementById('spread').textContent,
      seq: document.getElementById('ladder').dataset.seq,
      asks: levels('asks'),
      bids: levels('bids'),
      tape,
    };
  });
}

/** The checksum string of the ladder as shown: asks best (lowest) first, then bids best first. */
function ladderString(panel) {
  const piece = (levels) => levels.map((l) => `${l.price}:${l.size}`).join(',');
  return `${piece([...panel.asks].reverse())}|${piece(panel.bids)}`;
}

/** Checks the ladder is a well-formed top-10 book equal to the reference client's at the seq shown. */
async function assertLadderMatches(panel, ref, topic) {
  assert.match(panel.status, /^book ok · seq \d+$/, `status: ${panel.status} (${panel.note})`);
  const seq = Number(panel.status.match(/\d+$/)[0]);
  assert.equal(Number(panel.seq), seq, 'the ladder was drawn at the seq the status shows');
  assert.equal(panel.asks.length, 10, 'ten asks');
  assert.equal(panel.bids.length, 10, 'ten bids');
  // Top to bottom: the 10th ask down to the best ask, then the best bid down to the 10th bid.
  const prices = [...panel.asks, ...panel.bids].map((l) => l.price);
  for (let i = 1; i < prices.length; i++)
    assert.equal(compareDecimal(prices[i - 1], prices[i]), 1, `prices descend down the ladder: ${prices.join(' ')}`);
  const all = [...panel.asks, ...panel.bids];
  const max = Math.max(...all.map((l) => Number(l.size)));
  for (const l of all) {
    assert.match(l.size, /^\d+\.\d+$/);
    assert.ok(Math.abs(l.bar - (l.cell * Number(l.size)) / max) <= 1,
      `bar of ${l.price} (${l.size} of max ${max}) is ${l.bar} px of the cell's ${l.cell}`);
  }
  assert.ok(all.some((l) => Math.abs(l.bar - l.cell) <= 1), 'the largest size fills its bar cell');
  const spread = Number(panel.bids.length && panel.asks.at(-1).price) - Number(panel.bids[0].price);
  assert.match(panel.spread, new RegExp(`^spread ${spread.toFixed(panel.bids[0].price.split('.')[1].length)} · \\d+\\.\\d bp$`));

  const shown = ladderString(panel);
  await waitFor(() => ref.states.get(topic)?.has(seq), { timeoutMs: 3000, what: `reference client at ${topic} seq ${seq}` });
  assert.equal(shown, ref.states.get(topic).get(seq), `ladder at seq ${seq} equals the reference client's book`);
  return { seq, checksum: crc32(shown) };
}

/** Records every text the book status shows, so a resync that lasts one frame is not missed. */
function recordBookStatus(page) {
  return page.evaluate(() => {
    window.__bookStates = [];
    if (window.__bookObserver) return;  // one observer; a new call only starts a new record
    const el = document.getElementById('book-status');
    window.__bookObserver = new MutationObserver(() => window.__bookStates.push(el.textContent));
    window.__bookObserver.observe(el, { childList: true, characterData: true, subtree: true });
  });
}

test('clicking a symbol opens its book ladder and trade tape, equal to an independent client\'s, '
  + 'and another click switches the book', { timeout: 40000 }, async () => {
  const ref = await referenceClient(['BTC-USD', 'ETH-USD']);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const frames = [];  // the page's own WebSocket traffic, in order
  page.on('websocket', (ws) => {
    ws.on('framesent', (f) => frames.push({ dir: 'sent', m: JSON.parse(f.payload) }));
    ws.on('framereceived', (f) => frames.push({ dir: 'received', m: JSON.parse(f.payload) }));
  });
  try {
    await page.goto(gw.httpsUrl + '/');
    assert.equal(await page.locator('#panel').isVisible(), false, 'no panel before a click');
    await page.click('tr[data-topic="ticker.BTC-USD"]');
    await page.locator('#book-status').filter({ hasText: /^book ok/ }).waitFor({ timeout: 10000 });
    await recordBookStatus(page);
    const opened = await readPanel(page);
    assert.equal(opened.visible, true);
    assert.equal(opened.symbol, 'BTC-USD');
    assert.equal(opened.under, 'ticker.BTC-USD', 'the panel opens under the row clicked');
    assert.match(opened.topic, /^book\.BTC-USD/);
    assert.equal(await page.locator('tr[data-topic="ticker.BTC-USD"]').getAttribute('class'), 'selected');

    // For ~3 s the book stays ok while its seq rises, and every frame sampled equals the reference.
    const seqs = [];
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      seqs.push((await assertLadderMatches(await readPanel(page), ref, 'book.BTC-USD')).seq);
      await delay(200);
    }
    assert.ok(seqs.at(-1) > seqs[0] + 20, `seq rose: ${seqs.join(' ')}`);
    const shown = await page.evaluate(() => window.__bookStates);
    assert.ok(shown.length > 20, `the status was redrawn ${shown.length} times`);
    assert.deepEqual(shown.filter((s) => !s.startsWith('book ok')), [], 'no resync while the book was followed');

    // The trade tape: newest first, the reference client's last trades, sides colored.
    await page.waitForFunction(() => document.querySelectorAll('#tape tr:not([hidden])').length >= 10, null, { timeout: 10000 });
    const { tape } = await readPanel(page);
    const refTrades = ref.trades.get('trade.BTC-USD').map((t) => `${t.side} ${t.price} ${t.size}`);
    const tapeTrades = tape.map((t) => `${t.side} ${t.price} ${t.size}`).reverse();
    const at = refTrades.findIndex((_, i) => tapeTrades.every((t, k) => refTrades[i + k] === t));
    assert.ok(at >= 0, `the tape (oldest first: ${tapeTrades.join(', ')}) is a run of the reference's trades`);
    for (const t of tape) {
      assert.match(t.time, /^\d\d:\d\d:\d\d\.\d{3}$/);
      assert.equal(t.color, t.side === 'buy' ? 'rgb(46, 204, 113)' : 'rgb(255, 92, 92)', `${t.side} colored`);
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'book-panel.png'), fullPage: true });

    // Another symbol: the panel switches, BTC-USD's topics are unsubscribed and stop arriving.
    const before = await readPanel(page);
    await page.click('tr[data-topic="ticker.ETH-USD"]');
    await page.locator('#book-symbol').filter({ hasText: 'ETH-USD' }).waitFor({ timeout: 5000 });
    await page.locator('#book-status').filter({ hasText: /^book ok/ }).waitFor({ timeout: 10000 });
    await delay(500);
    const eth = await readPanel(page);
    assert.match(eth.topic, /^book\.ETH-USD/);
    assert.equal(eth.under, 'ticker.ETH-USD');
    await assertLadderMatches(eth, ref, 'book.ETH-USD');
    assert.notEqual(ladderString(eth), ladderString(before), 'another book is shown');
    assert.equal(await page.locator('tr.selected').getAttribute('data-topic'), 'ticker.ETH-USD');
    const unsub = frames.findIndex((f) => f.dir === 'sent' && f.m.op === 'unsubscribe');
    assert.ok(unsub >= 0, 'the page sent an unsubscribe');
    assert.deepEqual(frames[unsub].m.topics, ['book.BTC-USD', 'trade.BTC-USD']);
    const acked = frames.findIndex((f) => f.dir === 'received' && f.m.type === 'unsubscribed' && f.m.id === frames[unsub].m.id);
    assert.ok(acked > unsub, 'and the gateway acknowledged it');
    assert.deepEqual(frames[acked].m.topics, ['book.BTC-USD', 'trade.BTC-USD']);
    const late = frames.slice(acked).filter((f) => f.dir === 'received' && /^(book|trade)\.BTC-USD$/.test(f.m.topic));
    assert.deepEqual(late, [], 'nothing of BTC-USD arrives after the unsubscribe');

    // Closing the panel unsubscribes ETH-USD too.
    await page.click('#close-book');
    assert.equal(await page.locator('#panel').isVisible(), false);
    await waitFor(() => frames.some((f) => f.dir === 'received' && f.m.type === 'unsubscribed'
      && f.m.topics.includes('book.ETH-USD')), { timeoutMs: 3000, what: 'ETH-USD unsubscribed on close' });
    assert.deepEqual(ref.errors, [], 'the reference client\'s books were consistent');
    assert.deepEqual(errors, [], 'no script errors on the page');
  } finally {
    await page.close();
    await ref.c.close();
  }
});

test('a corrupted book message, then a lost one, make the page resync: "resync", then "book ok" again from a fresh snapshot',
  { timeout: 40000 }, async () => {
  // A gateway of its own, at a tenth of the shared one's rates: every frame of this page passes
  // through Playwright's route (page -> test process -> page), and at the shared gateway's ~1,200
  // frames/s a machine busy with other tests left the page's main thread so far behind that a click
  // waited out its 30 s (reproduced beside two busy loops). BTC-USD still changes ~10 times a second.
  const quiet = await startGateway(['--symbols', '8', '--rate', '40', '--book-rate', '80', '--trade-rate', '10']);
  const ref = await referenceClient(['BTC-USD'], quiet);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // Every frame passes through this route between the page and the real gateway. `tamper`, when
  // set, sees each book.BTC-USD delta: it returns the text to forward instead, null to drop the
  // delta, or undefined to pass it unchanged and wait for another.
  const traffic = [];
  let tamper = null;
  await page.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((text) => { traffic.push({ dir: 'sent', m: JSON.parse(text) }); server.send(text); });
    server.onMessage((text) => {
      const m = JSON.parse(text);
      if (tamper && m.topic === 'book.BTC-USD' && m.snapshot === false) {
        const out = tamper(m);
        if (out === null) return;
        if (out !== undefined) text = out;
      }
      traffic.push({ dir: 'received', m: JSON.parse(text) });
      ws.send(text);
    });
  });

  /** Arms `change`, waits for the page to go "resync" and back to "book ok"; returns the delta hit. */
  async function expectResync(change, note) {
    await recordBookStatus(page);
    let waited;
    const hit = await new Promise((resolve, reject) => {
      waited = setTimeout(() => reject(new Error('no book.BTC-USD delta passed the route within 10 s')), 10000);
      tamper = (m) => {
        const at = traffic.length;
        const out = change(m);
        if (out !== undefined) { tamper = null; resolve({ m, at }); }
        return out;
      };
    }).finally(() => clearTimeout(waited));
    await page.waitForFunction(() => {
      const states = window.__bookStates;
      const bad = states.indexOf('resync');
      return bad >= 0 && states.slice(bad + 1).some((s) => s.startsWith('book ok'));
    }, null, { timeout: 10000 });
    const states = await page.evaluate(() => window.__bookStates);
    const bad = states.indexOf('resync');
    assert.ok(states.slice(0, bad).every((s) => s.startsWith('book ok')), `ok until then: ${states.slice(0, bad)}`);

    // The page dropped its book and asked for a new one: unsubscribe, subscribe, a fresh snapshot.
    const after = traffic.slice(hit.at);
    const unsub = after.findIndex((f) => f.dir === 'sent' && f.m.op === 'unsubscribe');
    assert.ok(unsub >= 0, 'the page unsubscribed');
    assert.deepEqual(after[unsub].m.topics, ['book.BTC-USD'], 'only the book, not the trades');
    const sub = after.findIndex((f, i) => i > unsub && f.dir === 'sent' && f.m.op === 'subscribe');
    assert.ok(sub > unsub, 'then subscribed again');
    assert.deepEqual(after[sub].m.topics, ['book.BTC-USD']);
    const snapshot = after.find((f, i) => i > sub && f.m.topic === 'book.BTC-USD' && f.m.snapshot === true);
    assert.ok(snapshot, 'and got a fresh snapshot');
    assert.ok(snapshot.m.seq >= hit.m.seq);

    await delay(300);
    const panel = await readPanel(page);
    const { seq } = await assertLadderMatches(panel, ref, 'book.BTC-USD');
    assert.ok(seq >= snapshot.m.seq, 'following the book from the new snapshot');
    assert.match(panel.note, note(hit.m), 'the page says why it resynced');
    return panel;
  }

  try {
    await page.goto(quiet.httpsUrl + '/');
    await page.click('tr[data-topic="ticker.BTC-USD"]');
    await page.locator('#book-status').filter({ hasText: /^book ok/ }).waitFor({ timeout: 10000 });
    await assertLadderMatches(await readPanel(page), ref, 'book.BTC-USD');

    // A corrupted copy: one level's size is changed; the checksum no longer matches.
    await expectResync((m) => {
      const level = [...m.asks, ...m.bids].find(([, size]) => Number(size) > 0);
      if (!level) return undefined;
      level[1] = (Number(level[1]) + 1).toFixed(level[1].split('.')[1].length);
      return JSON.stringify(m);
    }, (m) => new RegExp(`^1 resync, last: checksum \\d+ != ${m.checksum} at seq ${m.seq}$`));
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'book-panel-resynced.png'), fullPage: true });

    // A lost delta: the next one's prev_seq is the lost one's seq, not the page's.
    await expectResync(() => null,
      (m) => new RegExp(`^2 resyncs, last: prev_seq ${m.seq} after seq ${m.prev_seq}$`));

    assert.deepEqual(ref.errors, []);
    assert.deepEqual(errors, [], 'no script errors on the page');
  } finally {
    await page.close();
    await ref.c.close();
    await quiet.stop();
  }
});

// ---- The chat panel (issue 16, "Live page"): chat.lobby, shown when the welcome's "publish" names chat ----

/** The chat messages a page shows, in its order: what a user reads. */
function chatLines(page) {
  return page.evaluate(() => [...document.querySelectorAll('#chat-messages li')].map((li) => ({
    seq: Number(li.dataset.seq),
    time: li.querySelector('.time').textContent,
    from: li.querySelector('.from').textContent,
    text: li.querySelector('.text').textContent,
    mine: li.classList.contains('mine'),
  })));
}

async function openChatPage(url) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url + '/');
  await page.locator('#chat-status').filter({ hasText: 'joined' }).waitFor({ timeout: 10000 });
  return { page, errors };
}

// Enter in the input, as a user sends: a click on Send would wait for the button to be stable over
// animation frames, which a tab behind another does not get and a loaded machine gives slowly.
async function say(page, text) {
  await page.fill('#chat-text', text);
  await page.press('#chat-text', 'Enter');
}

test('with publishing off the chat panel stays hidden', async () => {
  const page = await context.newPage();
  await page.goto(gw.httpsUrl + '/');
  await page.locator('tr[data-topic="ticker.BTC-USD"]').waitFor({ timeout: 10000 });
  assert.equal(await page.locator('#chat').isVisible(), false, 'no chat panel on a gateway without --publish-channels');
  assert.equal(await page.locator('#chat-messages li').count(), 0);
  await page.close();
});

test('two pages chat on chat.lobby: each one\'s messages reach both, in one seq order, as plain text', async () => {
  // Few ticker updates: a tab behind another runs its renderer at low priority, and on a loaded
  // machine 1000 ticker messages/s would hold its chat messages back for seconds.
  const chatGw = await startGateway(['--symbols', '2', '--rate', '20', '--publish-channels', 'chat']);
  const reference = await connectReady(chatGw.wsUrl + '?subscribe=chat.lobby', { label: 'chat reference' });
  try {
    const a = await openChatPage(chatGw.httpsUrl);
    const b = await openChatPage(chatGw.httpsUrl);
    assert.ok(await a.page.locator('#chat').isVisible(), 'the chat panel is shown');
    // Markup in a message must arrive as the characters typed, never as elements or script.
    const hostile = '<img src=x onerror="window.__xss=1"> <b>not bold</b> & ünïcode';
    await say(a.page, 'hello from A');
    await say(b.page, 'hello from B');
    await say(a.page, hostile);
    // Polled on a timer: the default polls on animation frames, which a tab behind another never gets.
    for (const p of [a.page, b.page])
      await p.waitForFunction(() => document.querySelectorAll('#chat-messages li').length === 3, null,
        { timeout: 30000, polling: 100 });

    const seenA = await chatLines(a.page);
    const seenB = await chatLines(b.page);
    const strip = (lines) => lines.map(({ seq, from, text }) => ({ seq, from, text }));
    assert.deepEqual(strip(seenA), strip(seenB), 'both pages show the same messages in the same order');
    assert.deepEqual(seenA.map((l) => l.seq), [seenA[0].seq, seenA[0].seq + 1, seenA[0].seq + 2], 'seq +1 each, in order');
    // A's two messages keep their send order; B's lies wherever the gateway sequenced it.
    const fromA = seenA.filter((l) => l.mine).map((l) => l.text);
    assert.deepEqual(fromA, ['hello from A', hostile], 'A sees its own two messages, marked as its own, in order');
    assert.deepEqual(seenB.filter((l) => l.mine).map((l) => l.text), ['hello from B']);
    const authorA = seenA.find((l) => l.mine).from, authorB = seenB.find((l) => l.mine).from;
    assert.match(authorA, /^anon:[0-9a-f]{16}$/);
    assert.notEqual(authorA, authorB);
    for (const l of seenA) assert.match(l.time, /^\d\d:\d\d:\d\d$/);

    // An independent ws client on the room got the same three, with the same seq and from.
    await waitFor(() => reference.messages.filter((m) => m.type === 'chat').length === 3, { what: 'the reference client\'s 3 messages' });
    const ref = reference.messages.filter((m) => m.type === 'chat').map((m) => ({ seq: m.seq, from: m.from, text: m.data.text }));
    assert.deepEqual(strip(seenA), ref);

    for (const p of [a.page, b.page]) {
      assert.equal(await p.locator('#chat-messages img, #chat-messages b').count(), 0, 'no markup rendered');
      assert.equal(await p.evaluate(() => window.__xss), undefined, 'no script ran');
      assert.equal(await p.locator('#chat-error').textContent(), '');
    }
    // Chat messages never become ticker rows.
    assert.equal(await a.page.locator('#rows tr[data-topic^="chat."]').count(), 0);
    mkdirSync(ARTIFACTS, { recursive: true });
    await a.page.screenshot({ path: path.join(ARTIFACTS, 'chat-panel.png'), fullPage: true });
    assert.deepEqual([...a.errors, ...b.errors], [], 'no script errors on the pages');
    await a.page.close();
    await b.page.close();
  } finally {
    await reference.close();
    await chatGw.stop();
  }
});

test('the chat panel shows a refused send plainly: rate_limited past --publish-rate, forbidden for a page without a token', async () => {
  const limited = await startGateway(['--symbols', '2', '--rate', '20', '--publish-channels', 'chat', '--publish-rate', '1']);
  try {
    const { page } = await openChatPage(limited.httpsUrl);
    // Back to back, in one task so a busy machine cannot space them a second apart: the first
    // spends the one-message burst, so the gateway refuses the second.
    await page.evaluate(() => {
      for (const text of ['first', 'second, too soon']) {
        document.getElementById('chat-text').value = text;
        document.getElementById('chat-form').requestSubmit();
      }
    });
    await page.locator('#chat-messages li').first().waitFor({ timeout: 10000 });
    await page.locator('#chat-error').filter({ hasText: /^rate_limited: / }).waitFor({ timeout: 10000 })
      .catch(async (e) => { throw new Error(`chat error shown: "${await page.locator('#chat-error').textContent()}"; ${e.message}`); });
    assert.deepEqual((await chatLines(page)).map((l) => l.text), ['first'], 'the refused message was not delivered');
    await page.close();
  } finally {
    await limited.stop();
  }

  // With access control the gateway still names chat in its welcome (the page cannot know what a
  // token allows), so the panel shows, and a send without a publish claim comes back forbidden.
  const dir = tempDir('tickgate-chat-auth-');
  const secret = writeFileSecret(dir.dir);
  const guarded = await startGateway(['--symbols', '2', '--rate', '20', '--publish-channels', 'chat', '--jwt-secret-file', secret,
    '--anonymous-topics', 'ticker.*,chat.*']);
  try {
    const { page } = await openChatPage(guarded.httpsUrl);
    await say(page, 'anyone there?');
    await page.locator('#chat-error').filter({ hasText: /^forbidden: / }).waitFor({ timeout: 10000 });
    assert.match(await page.locator('#chat-error').textContent(), /anonymous clients cannot publish/);
    assert.equal(await page.locator('#chat-messages li').count(), 0);
    // The connection survives the refusal: the tickers keep coming.
    await page.locator('tr[data-topic="ticker.BTC-USD"]').waitFor({ timeout: 10000 });
    assert.equal(await page.locator('#state').textContent(), 'live');
    await page.close();
  } finally {
    await guarded.stop();
    dir.cleanup();
  }
});

function writeFileSecret(dir) {
  const file = path.join(dir, 'secret');
  writeFileSync(file, 'a-test-secret-of-at-least-32-bytes-for-hs256');
  return file;
}
