// --io-backend: the backend a gateway writes through, how it says so, and the fallback when
// io_uring is refused (support/no_io_uring.py refuses io_uring_setup as a seccomp profile would).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN, connectReady, isUpdate, scrape, startGateway, tempDir } from './support/gateway.mjs';
import { assertGapFree } from './support/checks.mjs';

const NO_IO_URING = ['/usr/bin/python3', path.join(path.dirname(fileURLToPath(import.meta.url)), 'support', 'no_io_uring.py')];

/** 30 updates of one topic, in order and gap-free, then close. */
async function receives(gw, tlsOptions = {}) {
  const c = await connectReady(gw.wsUrl, { label: 'io', ...tlsOptions });
  try {
    c.send({ op: 'subscribe', id: 1, topics: ['ticker.BTC-USD'] });
    const updates = [];
    while (updates.length < 30) updates.push(await c.next(isUpdate, 5000));
    assertGapFree(updates);
  } finally {
    await c.close();
  }
}

async function backendOf(gw) {
  const m = await scrape(gw);
  return ['uring', 'epoll'].filter((b) => m[`tickgate_io_backend{backend="${b}"}`] === 1);
}

describe('--io-backend', () => {
  for (const backend of ['uring', 'epoll']) {
    for (const tls of [true, false]) {
      test(`${backend}${tls ? '' : ' --no-tls'}: logged, on /metrics, and clients get their updates`, { timeout: 20000 }, async () => {
        const gw = await startGateway(['--symbols', '3', '--rate', '200', '--io-backend', backend, ...(tls ? [] : ['--no-tls'])]);
        try {
          assert.match(gw.stderr, new RegExp(`io backend: ${backend}`));
          assert.deepEqual(await backendOf(gw), [backend]);
          await receives(gw);
          const m = await scrape(gw);
          assert.ok(m.tickgate_writes_total >= 30, `tickgate_writes_total ${m.tickgate_writes_total}`);
          if (backend === 'uring') assert.ok(m.tickgate_uring_submits_total > 0, 'no io_uring submission was counted');
          else assert.equal(m.tickgate_uring_submits_total, 0);
          // A TLS 1.3 client's records are the gateway's own on both backends.
          assert.equal(m.tickgate_tls_sealed_connections_total, tls ? 1 : 0);
        } finally {
          await gw.stop();
        }
      });
    }

    test(`${backend}: a TLS 1.2 client is served through SSL_write, gap-free`, { timeout: 20000 }, async () => {
      const gw = await startGateway(['--symbols', '3', '--rate', '200', '--io-backend', backend]);
      try {
        await receives(gw, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
        const m = await scrape(gw);
        assert.equal(m.tickgate_tls_sealed_connections_total, 0);
        assert.ok(m.tickgate_writes_total >= 30, `tickgate_writes_total ${m.tickgate_writes_total}`);
      } finally {
        await gw.stop();
      }
    });
  }

  test('auto where io_uring is refused: falls back to epoll, says why, and serves', { timeout: 20000 }, async () => {
    const gw = await startGateway(['--symbols', '3', '--rate', '200', '--io-backend', 'auto'], { wrapper: NO_IO_URING });
    try {
      assert.match(gw.stderr, /io backend: epoll \(io_uring unavailable: .*EPERM/);
      assert.deepEqual(await backendOf(gw), ['epoll']);
      await receives(gw);
    } finally {
      await gw.stop();
    }
  });

  test('uring where io_uring is refused: exits 1 with one line saying why', { timeout: 15000 }, async () => {
    const state = tempDir('tickgate-e2e-state-');
    try {
      const args = ['--listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0', '--state-dir', state.dir, '--io-backend', 'uring'];
      const p = spawn(NO_IO_URING[0], [...NO_IO_URING.slice(1), BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      p.stderr.setEncoding('utf8');
      p.stderr.on('data', (d) => { stderr += d; });
      const code = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error('tickgate did not exit')); }, 10000);
        p.on('exit', (c) => { clearTimeout(timer); resolve(c); });
      });
      assert.equal(code, 1, stderr);
      const lines = stderr.split('\n').filter((l) => l.startsWith('tickgate:'));
      assert.deepEqual(lines, ['tickgate: --io-backend uring: io_uring is refused here (EPERM: kernel.io_uring_disabled, or a seccomp profile)']);
    } finally {
      state.cleanup();
    }
  });
});
