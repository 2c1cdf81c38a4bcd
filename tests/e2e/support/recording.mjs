// A recording as any v1 client makes one: a simulator gateway's topics, one received message per
// line, for the replay tests (a replaying gateway, or tickgate-feed replaying onto NATS).
import { connectReady, delay, startGateway, waitFor } from './gateway.mjs';

/**
 * Records `topics` (exact, with a book among them) of a simulator gateway for about a second,
 * resubscribing the book topics halfway so the recording holds a second snapshot. Returns
 * [message, raw line] pairs of the messages that have a topic.
 */
export async function recordSimulator(topics) {
  const gw = await startGateway(['--symbols', '2', '--rate', '40', '--book-rate', '200', '--trade-rate', '60']);
  try {
    const c = await connectReady(gw.wsUrl);
    // A topic exists from its first update: a trade topic may not have had one yet at start, and a
    // subscribe to it would be refused (unknown_topic), leaving the recording without trades.
    let id = 100;
    await waitFor(async () => {
      const list = await c.request({ op: 'list', id: ++id }, 'topics');
      return topics.every((t) => list.topics.includes(t));
    }, { timeoutMs: 10000, what: `the recorded topics (${topics}) to exist` });
    const ack = await c.request({ op: 'subscribe', id: 1, topics }, 'subscribed');
    if (ack.topics.length !== topics.length) throw new Error(`recording: subscribed to ${ack.topics} of ${topics}`);
    await delay(500);
    // A second snapshot in the recording: the line a replay rebuilds from after a break.
    const books = topics.filter((t) => t.startsWith('book'));
    await c.request({ op: 'unsubscribe', id: 2, topics: books }, 'unsubscribed');
    await c.request({ op: 'subscribe', id: 3, topics: books }, 'subscribed');
    await delay(500);
    await c.close();
    // The raw text, not a re-serialisation: ts does not survive a JSON.parse (it is above 2^53).
    return c.messages.map((m, i) => [m, c.raw[i]]).filter(([m]) => typeof m.topic === 'string');
  } finally {
    await gw.stop();
  }
}
