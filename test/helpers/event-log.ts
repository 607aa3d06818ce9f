/** An SDK `EventStore` that keeps every event and replays a stream's after an id (the SDK example's InMemoryEventStore cannot replay the GET stream: '_GET_stream'.split('_')[0] === ''). */
import type { EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

export class EventLog implements EventStore {
  #n = 0;
  readonly events: Array<{ id: string; stream: string; message: JSONRPCMessage }> = [];
  async storeEvent(stream: string, message: JSONRPCMessage) { const id = `e${++this.#n}`; this.events.push({ id, stream, message }); return id; }
  async getStreamIdForEventId(id: string) { return this.events.find((e) => e.id === id)?.stream; }
  async replayEventsAfter(last: string, { send }: { send: (id: string, m: JSONRPCMessage) => Promise<void> }) {
    const i = this.events.findIndex((e) => e.id === last);
    if (i < 0) return '';
    const stream = this.events[i]!.stream;
    for (const e of this.events.slice(i + 1)) if (e.stream === stream) await send(e.id, e.message);
    return stream;
  }
}
