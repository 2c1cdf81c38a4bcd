// JWTs for the access-control tests, made with node's crypto (no JWT library): keys generated at
// test time, ES256 and HS256 tokens, and the malformed ones an attacker would send.
import crypto from 'node:crypto';
import assert from 'node:assert/strict';
import https from 'node:https';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const b64url = (buf) => Buffer.from(buf).toString('base64url');

export function ecKeys() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }) };
}

export function writeKey(dir, name, pem) {
  const file = path.join(dir, name);
  writeFileSync(file, pem);
  return file;
}

export const nowS = () => Math.floor(Date.now() / 1000);

/** Claims with sub and exp (10 min ahead) unless overridden; `null` deletes a claim. */
export function claims(extra = {}) {
  const c = { sub: 'alice', exp: nowS() + 600, ...extra };
  for (const k of Object.keys(c)) if (c[k] === null) delete c[k];
  return c;
}

function signingInput(header, body) {
  return `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(body))}`;
}

export function es256(privateKey, body, { kid } = {}) {
  const header = { alg: 'ES256', typ: 'JWT', ...(kid ? { kid } : {}) };
  const input = signingInput(header, body);
  const sig = crypto.sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64url(sig)}`;
}

/** HS256 keyed with any bytes: the secret, or (the algorithm-confusion attack) the PEM public key. */
export function hs256(key, body, header = {}) {
  const input = signingInput({ alg: 'HS256', typ: 'JWT', ...header }, body);
  return `${input}.${b64url(crypto.createHmac('sha256', key).update(input).digest())}`;
}

export function algNone(body) {
  return `${signingInput({ alg: 'none', typ: 'JWT' }, body)}.`;
}

/**
 * A WebSocket upgrade request by hand, so a refusal's status and JSON body can be read.
 * Resolves {status, body, json} (status 101 when the upgrade was accepted; the socket is closed).
 */
export function upgrade(httpsUrl, pathAndQuery, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(`${httpsUrl}${pathAndQuery}`, {
      rejectUnauthorized: false,
      headers: {
        Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': crypto.randomBytes(16).toString('base64'), ...headers,
      },
    });
    req.setTimeout(5000, () => req.destroy(new Error('upgrade timed out')));
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve({ status: res.statusCode, body: '', json: null }); });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(body); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, body, json });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Stops the gateway and fails on a bad exit (under ASan/UBSan a report makes it non-zero). */
export async function stopChecked(gw) {
  if (!gw) return;
  const exit = await gw.stop();
  const reports = gw.stderr.split('\n').filter((l) => /Sanitizer|runtime error/.test(l)).join('\n');
  assert.equal(exit?.code, 0, `tickgate exit ${JSON.stringify(exit)}: ${reports}`);
}
