// Hostile clients (issue 19), each beside a witness client that must see every seq of its topic
// while the abuse goes on and after it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connectReady, delay, startGateway } from './support/gateway.mjs';
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
});
