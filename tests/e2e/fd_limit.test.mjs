// Running out of file descriptors: the gateway keeps serving the clients it has, counts the accept
// failures, and takes new clients again once descriptors free up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { connect, scrape, startGateway, waitFor, delay } from './support/gateway.mjs';

test('accept back-off when the open-file limit is reached, then recovery', async () => {
  assert.equal(spawnSync('prlimit', ['--version']).status, 0, 'prlimit (util-linux) is needed');
  // 64 descriptors: the gateway itself uses about 20, so a few dozen clients exhaust it.
  const gw = await startGateway(['--symbols', '3', '--rate', '100', '--handshake-timeout-ms', '20000'],
    { wrapper: ['prlimit', '--nofile=64:64', '--'] });
  const clients = [];
  try {
    const first = await connect(gw.wsUrl + '?subscribe=ticker.BTC-USD', { label: 'first' });
    await first.next((m) => m.topic === 'ticker.BTC-USD' && !m.snapshot, 5000);
    clients.push(first);
    // Open more than the limit allows, without waiting for each.
    const attempts = [];
    for (let i = 0; i < 60; i++) attempts.push(connect(gw.wsUrl, { label: `c${i}`, timeoutMs: 4000 }).then((c) => { clients.push(c); return true; }, () => false));
    const results = await Promise.all(attempts);
    const opened = results.filter(Boolean).length;
    assert.ok(opened < 60, `some connections could not be accepted (opened ${opened} of 60)`);
    assert.match(gw.stderr, /accept failed: Too many open files; retrying in 100 ms/);
    // The first client was never disturbed.
    const seqA = (await first.next((m) => m.topic === 'ticker.BTC-USD', 3000)).seq;
    const seqB = (await first.next((m) => m.topic === 'ticker.BTC-USD', 3000)).seq;
    assert.equal(seqB, seqA + 1);
    // Free descriptors: the listener resumes and a new client gets in.
    for (const c of clients.splice(1)) c.ws.terminate();
    await delay(500);
    // The metrics listener was out of descriptors too; now it answers.
    const metrics = await waitFor(() => scrape(gw), { timeoutMs: 5000, what: 'metrics after recovery' });
    assert.ok(metrics['tickgate_accept_errors_total'] > 0, 'accept failures are counted');
    const late = await waitFor(async () => {
      try { return await connect(gw.wsUrl, { label: 'late', timeoutMs: 3000 }); } catch { return null; }
    }, { timeoutMs: 10000, what: 'a new connection after descriptors were freed' });
    await late.next('welcome', 3000);
    late.ws.terminate();
    first.ws.terminate();
  } finally {
    for (const c of clients) c.ws.terminate();
    await gw.stop();
  }
});
