// Hostile clients (issue 19), each beside a witness client that must see every seq of its topic
// while the abuse goes on and after it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { connectReady, delay, scrape, startGateway } from './support/gateway.mjs';
import { upgrade } from './support/jwt.mjs';
import { assertGapFree } from './support/checks.mjs';

const T = { timeout: 30000 };

describe('hostile clients (--client-rate 50), with a witness', () => {
  let gw;
  let witness;
  before(async () => {
    gw = await startGateway(['--symbols', '3', '--rate', '300', '--client-rate', '50']);
    witness = await connectReady(gw.wsUrl, { label: 'witness' });
    await witness.request({ op: 'subscribe', id: 1, topics: ['ticker.BTC-USD'] }, 'subscribed');
  });
  after(async () => {
    await witness?.close();
    const exit = await gw?.stop();
    assert.equal(exit?.code, 0, `tickgate exit ${JSON.stringify(exit)}`);
  });

  // Defect 1: at 10 x the rate a refill token came every tenth request and cleared the record of
  // refusals, so the client got thousands of rate_limited errors and was never closed.
  test('sustained requests at 10 x --client-rate are closed with 1008 within seconds', T, async () => {
    const abuser = await connectReady(gw.wsUrl, { label: 'abuser' });
    const from = witness.messages.length;
    const started = Date.now();
    // 500 requests/s: 5 every 10 ms, for at most 6 s.
    let sent = 0;
    while (abuser.isOpen && Date.now() - started < 6000) {
      for (let i = 0; i < 5; ++i) abuser.send({ op: 'ping', id: sent++ });
      await delay(10);
    }
    const closed = await abuser.waitClosed(2000);
    assert.ok(closed, `still open after ${sent} requests in ${Date.now() - started} ms`);
    assert.equal(closed.code, 1008);
    assert.match(closed.reason, /rate limit exceeded/);
    const limited = abuser.messages.filter((m) => m.type === 'error' && m.code === 'rate_limited').length;
    const pongs = abuser.messages.filter((m) => m.type === 'pong').length;
    assert.ok(pongs >= 100, `its burst was served first (${pongs} pongs)`);
    assert.ok(limited >= 1, 'it was told (rate_limited) before being closed');
    assert.ok(Date.now() - started < 4000, `closed within the first seconds (${Date.now() - started} ms)`);

    // The witness kept its stream whole, and still does.
    await delay(500);
    const seen = witness.updates(from);
    assert.ok(seen.length >= 50, `the witness kept receiving (${seen.length} updates)`);
    assertGapFree(witness.updates(), 'the witness');
    const pong = await witness.request({ op: 'ping', id: 'after' }, 'pong');
    assert.equal(pong.id, 'after');
  });

  // Found by upgrade_fuzz: a short request line in a read of its own, then header fields past the
  // limit, got 414 (Beast had not parsed the line yet, so the target was empty) where one read got 431.
  test('the 431/414 answer does not depend on how the request is split into reads', T, async () => {
    const { hostname, port } = new URL(gw.httpsUrl);
    const statusOf = (pieces) => new Promise((resolve, reject) => {
      const socket = tls.connect({ host: hostname, port: Number(port), rejectUnauthorized: false }, async () => {
        for (const piece of pieces) {
          socket.write(piece);
          await delay(150);  // each piece is its own read at the gateway
        }
      });
      let reply = '';
      socket.on('data', (d) => { reply += d; });
      socket.on('error', reject);
      socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(reply)?.[1])));
    });
    const line = 'GET /ws HTTP/1.1\r\n';
    const fields = `Host: x\r\nX-Filler: ${'x'.repeat(9000)}\r\n\r\n`;
    assert.equal(await statusOf([line + fields]), 431, 'one read');
    assert.equal(await statusOf(['GET /ws HT', 'TP/1.1\r\n', fields]), 431, 'the line split, then the fields');
    assert.equal(await statusOf([line, fields]), 431, 'the line, then the fields');
    assert.equal(await statusOf([`GET /ws?${'q'.repeat(5000)}`, `${'q'.repeat(5000)} HTTP/1.1\r\n`, fields]), 414,
      'a line past the limit in two reads');
  });

  // Defect 3: 64 KiB of headers or a 16 KiB URL ended in a FIN and no response.
  test('an oversized request gets 431 (header fields) or 414 (URI), counted as bad_handshake', T, async () => {
    const from = witness.messages.length;
    const badBefore = (await scrape(gw))['tickgate_connections_total{result="bad_handshake"}'] ?? 0;
    const headers = {};
    for (let i = 0; i < 64; ++i) headers[`X-Filler-${i}`] = 'x'.repeat(1000);
    const big = await upgrade(gw.httpsUrl, '/ws', headers);
    assert.equal(big.status, 431, big.body);
    assert.equal(big.json?.error, 'bad_request', big.body);
    assert.match(big.json?.message, /8192 bytes/);
    const longUrl = await upgrade(gw.httpsUrl, `/ws?subscribe=${'x'.repeat(16 * 1024)}`);
    assert.equal(longUrl.status, 414, longUrl.body);
    const health = await upgrade(gw.httpsUrl, `/healthz?${'y'.repeat(16 * 1024)}`);
    assert.equal(health.status, 414, 'not only upgrades: any request');
    const badAfter = (await scrape(gw))['tickgate_connections_total{result="bad_handshake"}'];
    assert.equal(badAfter - badBefore, 3, 'each one counted');
    // A request within the limit still upgrades, and the witness saw every seq meanwhile.
    assert.equal((await upgrade(gw.httpsUrl, '/ws', { 'X-Filler': 'x'.repeat(4000) })).status, 101);
    await delay(300);
    assert.ok(witness.updates(from).length > 0);
    assertGapFree(witness.updates(), 'the witness');
  });
});
