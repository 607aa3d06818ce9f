/** A JWKS server on 127.0.0.1 whose answers the test can park and release (no sleeps). */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { JWK } from 'jose';

export interface ParkingJwks {
  uri: string;
  keys: JWK[];
  park: boolean;
  /** Requests seen. */
  count: number;
  /** Responses parked right now. */
  parked: Array<{ res: ServerResponse; release: () => void }>;
  /** Resolves when `n` responses are parked. */
  whenParked(n: number): Promise<void>;
  close(): Promise<void>;
}

export async function startParkingJwks(): Promise<ParkingJwks> {
  const sockets = new Set<Socket>();
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const state = { keys: [], park: false, count: 0, parked: [] } as unknown as ParkingJwks;
  const server = createServer((_req, res) => {
    state.count++;
    // The answer is what the server had when the request arrived (as a real server computes it).
    const body = JSON.stringify({ keys: state.keys });
    const send = (): void => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(body); };
    if (!state.park) return send();
    const entry = { res, release: () => { state.parked.splice(state.parked.indexOf(entry), 1); send(); } };
    state.parked.push(entry);
    for (const w of [...waiters]) if (state.parked.length >= w.n) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  state.uri = `http://127.0.0.1:${port}/jwks`;
  state.whenParked = (n) => (state.parked.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve })));
  state.close = () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); });
  return state;
}

/** Resolve after `n` event-loop turns (check phases): ordering, not time. */
export function turns(n: number): Promise<void> {
  return new Promise((resolve) => {
    const step = (left: number): void => { if (left === 0) resolve(); else setImmediate(() => step(left - 1)); };
    step(n);
  });
}
