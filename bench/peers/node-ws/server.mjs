// Peer server: Node.js + npm `ws` over https, speaking the protocol-v1 subset the scenarios use
// (welcome; subscribe with a topics list -> subscribed ack; list -> topics; live updates only, no
// snapshots), broadcasting each update to that topic's subscribers. Written the way a careful Node
// developer would: each update serialized once to a Buffer and sent to every subscriber, no
// per-message compression, and a client whose send backlog passes 1 MiB (tickgate's
// --max-queue-bytes) is dropped with 1008 rather than allowed to grow memory without bound.
//
//   node bench/peers/node-ws/server.mjs --cert CERT --key KEY [--port 0] [--symbols 100] [--rate 1000]
// prints "listening on wss://127.0.0.1:PORT/ws" on stderr once ready.

import { readFileSync } from 'node:fs';
import https from 'node:https';
import { WebSocketServer, WebSocket } from 'ws';
import { Simulator, parseFlags, nowNs } from '../common/sim.mjs';

const flags = parseFlags(process.argv.slice(2), {
  host: '127.0.0.1', port: '0', cert: '', key: '', symbols: '100', rate: '1000', seed: '1',
});
const MAX_BACKLOG = 1 << 20;

const sim = new Simulator({ symbols: Number(flags.symbols), rate: Number(flags.rate), seed: Number(flags.seed) });
const known = new Set(sim.topics);
const subscribers = new Map(sim.topics.map((t) => [t, new Set()]));

const server = https.createServer({ cert: readFileSync(flags.cert), key: readFileSync(flags.key) });
const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false, maxPayload: 4096 });
let sessions = 0;

wss.on('connection', (ws) => {
  const held = new Set();
  ws.send(JSON.stringify({ type: 'welcome', session: (++sessions).toString(16), version: 'peer-ws', heartbeat_ms: 0 }));
  ws.on('message', (data) => {
    let req;
    try {
      req = JSON.parse(data.toString());
    } catch {
      return ws.send(JSON.stringify({ type: 'error', code: 'bad_request', message: 'malformed JSON' }));
    }
    const id = req.id;
    if (req.op === 'subscribe' && Array.isArray(req.topics)) {
      const added = [], unknown = [];
      for (const t of req.topics) {
        if (!known.has(t)) unknown.push(t);
        else if (!held.has(t)) {
          held.add(t);
          subscribers.get(t).add(ws);
          added.push(t);
        }
      }
      if (unknown.length) ws.send(JSON.stringify({ type: 'error', id, code: 'unknown_topic', message: 'no feed publishes this topic', topics: unknown }));
      if (added.length) ws.send(JSON.stringify({ type: 'subscribed', id, topics: added }));
    } else if (req.op === 'list') {
      ws.send(JSON.stringify({ type: 'topics', id, topics: sim.topics }));
    } else if (req.op === 'ping') {
      ws.send(JSON.stringify({ type: 'pong', id, ts: nowNs() }));
    } else {
      ws.send(JSON.stringify({ type: 'error', id, code: 'bad_request', message: 'unknown op' }));
    }
  });
  ws.on('close', () => {
    for (const t of held) subscribers.get(t).delete(ws);
  });
  ws.on('error', () => {});
});

sim.run((update) => {
  const bytes = Buffer.from(JSON.stringify(update));
  for (const ws of subscribers.get(update.topic)) {
    if (ws.readyState !== WebSocket.OPEN) continue;
    if (ws.bufferedAmount > MAX_BACKLOG) {
      ws.close(1008, 'slow consumer');
      continue;
    }
    ws.send(bytes, { binary: false });
  }
});

server.listen(Number(flags.port), flags.host, () => {
  console.error(`listening on wss://${flags.host}:${server.address().port}/ws`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
