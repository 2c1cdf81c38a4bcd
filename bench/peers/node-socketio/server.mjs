// Peer server: the npm `socket.io` server over https, a room per topic. A client emits
// `subscribe` with a list of topics, joins those rooms and gets a `subscribed` event back; every
// update is emitted to its topic's room as a `ticker` event carrying the same fields as tickgate's
// update (socket.io encodes a room broadcast once and writes it to each member).
//
//   node bench/peers/node-socketio/server.mjs --cert CERT --key KEY [--port 0] [--symbols 100] [--rate 1000]
// prints "listening on wss://127.0.0.1:PORT/socket.io/" on stderr once ready.

import { readFileSync } from 'node:fs';
import https from 'node:https';
import { Server } from 'socket.io';
import { Simulator, parseFlags } from '../common/sim.mjs';

const flags = parseFlags(process.argv.slice(2), {
  host: '127.0.0.1', port: '0', cert: '', key: '', symbols: '100', rate: '1000', seed: '1',
});

const sim = new Simulator({ symbols: Number(flags.symbols), rate: Number(flags.rate), seed: Number(flags.seed) });
const known = new Set(sim.topics);

const server = https.createServer({ cert: readFileSync(flags.cert), key: readFileSync(flags.key) });
// Defaults otherwise (no per-message compression in socket.io 4; polling and websocket transports).
const io = new Server(server, { serveClient: false, maxHttpBufferSize: 4096 });

io.on('connection', (socket) => {
  socket.on('subscribe', (topics) => {
    if (!Array.isArray(topics)) return;
    const valid = topics.filter((t) => known.has(t));
    socket.join(valid);
    socket.emit('subscribed', { topics: valid });
  });
});

sim.run((update) => io.to(update.topic).emit('ticker', update));

server.listen(Number(flags.port), flags.host, () => {
  console.error(`listening on wss://${flags.host}:${server.address().port}/socket.io/`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
