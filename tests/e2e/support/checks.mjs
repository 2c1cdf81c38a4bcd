// Assertions on what a client receives, shared by the test files.
import assert from 'node:assert/strict';

export const PRICE_FIELDS = ['bid', 'ask', 'last', 'open_24h', 'high_24h', 'low_24h'];
export const SIZE_FIELDS = ['bid_size', 'ask_size', 'last_size', 'volume_24h'];
const DECIMAL = /^\d+(\.\d+)?$/;

export function decimalsOf(s) {
  const dot = s.indexOf('.');
  return dot < 0 ? 0 : s.length - dot - 1;
}

/** A decimal string as a BigInt scaled to `places` decimals, so comparisons are exact. */
export function scaled(s, places) {
  const [int, frac = ''] = s.split('.');
  return BigInt(int + frac.padEnd(places, '0'));
}

function cmp(a, b) {
  const p = Math.max(decimalsOf(a), decimalsOf(b));
  const x = scaled(a, p);
  const y = scaled(b, p);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Checks every update's shape and values: channel type, decimal strings with a fixed number of
 * decimals per field per topic (across all the updates given), bid <= ask, low <= last <= high.
 */
export function checkUpdates(updates) {
  const places = new Map();  // topic -> {field: decimals}
  for (const u of updates) {
    const where = `${u.topic} seq ${u.seq}`;
    assert.equal(u.type, u.topic.split('.')[0], `${where}: type is the topic's channel`);
    assert.equal(typeof u.snapshot, 'boolean', `${where}: snapshot flag`);
    assert.ok(Number.isInteger(u.seq) && u.seq > 0, `${where}: seq is a positive integer`);
    assert.ok(Number.isInteger(u.ts) && u.ts > 1.6e18, `${where}: ts in ns since the epoch`);
    let seen = places.get(u.topic);
    if (!seen) places.set(u.topic, (seen = {}));
    for (const f of [...PRICE_FIELDS, ...SIZE_FIELDS]) {
      assert.equal(typeof u[f], 'string', `${where}: ${f} is a decimal string, got ${JSON.stringify(u[f])}`);
      assert.match(u[f], DECIMAL, `${where}: ${f} = ${u[f]}`);
      const d = decimalsOf(u[f]);
      if (seen[f] === undefined) seen[f] = d;
      assert.equal(d, seen[f], `${where}: ${f} = ${u[f]} has ${d} decimals, earlier ${seen[f]}`);
    }
    assert.ok(cmp(u.bid, u.ask) <= 0, `${where}: bid ${u.bid} <= ask ${u.ask}`);
    assert.ok(cmp(u.low_24h, u.last) <= 0, `${where}: low_24h ${u.low_24h} <= last ${u.last}`);
    assert.ok(cmp(u.last, u.high_24h) <= 0, `${where}: last ${u.last} <= high_24h ${u.high_24h}`);
  }
}

/** Per topic: no duplicate and no gap, each seq exactly the previous + 1. */
export function assertGapFree(updates, what = 'updates') {
  const last = new Map();
  const problems = [];
  for (const u of updates) {
    const prev = last.get(u.topic);
    if (prev !== undefined && u.seq !== prev + 1) problems.push(`${u.topic}: ${prev} -> ${u.seq}`);
    last.set(u.topic, u.seq);
  }
  assert.deepEqual(problems.slice(0, 10), [], `${what}: seq must rise by exactly 1 per topic`);
}

/** True when a subscribe entry (a topic, or a pattern with "*" segments) covers `topic`. */
export function entryCovers(entry, topic) {
  // A throttled entry ("ticker.*@1000ms") covers what its base covers, at its own pace.
  const [ec, es] = entry.split('@')[0].split('.');
  const [tc, ts] = topic.split('.');
  return (ec === '*' || ec === tc) && (es === '*' || es === ts);
}

/**
 * A subscribe ack without its "epochs" (protocol/README.md, "Resume"), after checking them: each a
 * 16-hex-digit epoch of a topic one of the ack's entries covers, and every exact entry listed
 * (feeds stamp every topic with an epoch). What is left is the ack of old, for deepEqual.
 */
export function withoutEpochs(ack) {
  const { epochs, ...rest } = ack;
  assert.equal(typeof epochs, 'object', `ack has epochs: ${JSON.stringify(ack)}`);
  for (const [topic, epoch] of Object.entries(epochs)) {
    assert.match(epoch, /^[0-9a-f]{16}$/, `epoch of ${topic}`);
    assert.ok(rest.topics.some((e) => entryCovers(e, topic)), `${topic} is covered by ${rest.topics}`);
  }
  for (const entry of rest.topics) {
    const base = entry.split('@')[0];
    if (!base.includes('*')) assert.ok(base in epochs, `epoch of ${entry}`);
  }
  return rest;
}
