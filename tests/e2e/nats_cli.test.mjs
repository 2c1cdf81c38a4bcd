// tickgate-feed's command line: --help, --version, --config, exit codes and log lines like the
// gateway's; waiting for NATS without giving up, and stopping promptly on SIGTERM meanwhile.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { delay, tempDir, waitFor } from './support/gateway.mjs';
import { FEED_BIN, scrapeUrl, startNats } from './support/nats.mjs';

function run(args) {
  const r = spawnSync(FEED_BIN, args, { encoding: 'utf8', timeout: 10000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('tickgate-feed command line', () => {
  test('--help lists every option with its default, --version prints it; both exit 0', () => {
    const h = run(['--help']);
    assert.equal(h.code, 0, h.err);
    for (const o of ['--nats', '--subject-prefix', '--bus-version', '--live-batches', '--flush-window-us', '--feed-thread', '--metrics-listen',
      '--feed', '--symbols', '--rate', '--seed', '--config', '--log-level', '--version'])
      assert.match(h.out, new RegExp(`${o} `), `${o} in --help`);
    assert.match(h.out, /127\.0\.0\.1:9465/);
    assert.match(h.out, /\(=md\)/);
    assert.match(h.out, /--bus-version arg \(=1\)/, 'v1 stays the default until every gateway reads v2');
    const v = run(['--version']);
    assert.equal(v.code, 0);
    assert.match(v.out, /^tickgate-feed \d+\.\d+\.\d+\n$/);
  });

  test('bad flags exit 2 with one line naming the problem', () => {
    for (const [args, what] of [
      [['--nope'], 'nope'],
      [['--nats', 'localhost'], 'HOST:PORT'],
      [['--feed', 'nats://127.0.0.1:4222'], 'local'],
      [['--feed', 'kafka://x'], 'kafka://x'],
      [['--subject-prefix', 'md.>'], 'wildcards'],
      [['--subject-prefix', ''], 'wildcards'],
      [['--metrics-listen', 'nowhere'], 'HOST:PORT'],
      [['--bus-version', '3'], '--bus-version must be 1 or 2'],
      [['--bus-version', '0'], '--bus-version must be 1 or 2'],
      [['--live-batches'], '--live-batches needs --bus-version 2'],
      [['--bus-version', '2', '--live-batches', '--subject-prefix', 'p'.repeat(228)], 'at most 227 characters'],
      [['--flush-window-us', '200000'], '--flush-window-us must be at most 100000'],
      [['--feed-thread', 'shared'], '--feed-thread must be auto or own'],
      [['--stream-storage', 'disk'], '--stream-storage must be file or memory'],
      [['--symbols', '0'], 'symbols'],
      // Books and trades are bus v2 record types: v1 cannot carry them.
      [['--book-rate', '1000'], '--book-rate and --trade-rate need --bus-version 2'],
      [['--trade-rate', '200', '--bus-version', '1'], '--book-rate and --trade-rate need --bus-version 2'],
      [['--config', '/nonexistent/feed.conf'], 'config file'],
    ]) {
      const r = run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, /^tickgate-feed: /);
      assert.ok(r.err.includes(what), `${args.join(' ')}: ${r.err}`);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
    }
  });

  test('waits for an unreachable NATS and stops promptly on SIGTERM', { timeout: 20000 }, async () => {
    // Port 1: nothing listens there (a free port found now could be taken by a parallel test).
    const p = spawn(FEED_BIN, ['--nats', '127.0.0.1:1', '--metrics-listen', '127.0.0.1:0'],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    const exited = new Promise((resolve) => p.on('exit', (code) => resolve(code)));
    try {
      await waitFor(() => /metrics on http/.test(err) && /not reachable yet/.test(err),
        { timeoutMs: 10000, what: 'the publisher to start and report NATS unreachable' });
      await delay(500);
      assert.equal(p.exitCode, null, err);
      assert.match(err, /Z warn  NATS nats:\/\/127\.0\.0\.1:\d+: not reachable yet/);
      const metrics = await scrapeUrl(err.match(/metrics on (http:\/\/\S+)/)[1]);
      assert.equal(metrics.tickgate_feed_nats_connected, 0);
      assert.equal(metrics.tickgate_feed_published_total, 0);
      const t0 = Date.now();
      p.kill('SIGTERM');
      assert.equal(await exited, 0, err);
      assert.ok(Date.now() - t0 < 2000, `exit within ${Date.now() - t0} ms`);
    } finally {
      p.kill('SIGKILL');  // a failed assertion must not leave it running (no-op once exited)
    }
  });

  test('--config FILE sets options; flags override it', { timeout: 30000 }, async () => {
    const nats = await startNats();
    const dir = tempDir();
    try {
      const conf = path.join(dir.dir, 'feed.conf');
      writeFileSync(conf, `nats = ${nats.url}\nsubject-prefix = venue1.md\nsymbols = 3\nrate = 100\n`);
      const p = spawn(FEED_BIN, ['--config', conf, '--symbols', '2', '--metrics-listen', '127.0.0.1:0'],
        { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d) => { err += d; });
      const exited = new Promise((resolve) => p.on('exit', (code) => resolve(code)));
      try {
        await waitFor(() => /created JetStream stream TICKGATE_venue1_md over venue1\.md\.>/.test(err),
          { timeoutMs: 10000, what: 'the stream for prefix venue1.md' });
        assert.match(err, /publishing to venue1\.md\.<channel>\.<symbol>/);
        const url = err.match(/metrics on (http:\/\/\S+)/)[1];
        const metrics = await waitFor(async () => {
          const m = await scrapeUrl(url);
          return m.tickgate_feed_published_total >= 10 ? m : null;  // each symbol several times
        }, { timeoutMs: 10000, what: '10 updates published' });
        assert.equal(metrics.tickgate_feed_topics, 2, '--symbols 2 wins over the file\'s 3');
        p.kill('SIGTERM');
        assert.equal(await exited, 0, err);
      } finally {
        p.kill('SIGKILL');
      }
    } finally {
      dir.cleanup();
      await nats.stop();
    }
  });
});
