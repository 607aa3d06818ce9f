/**
 * Real-HTTP helpers beyond supertest: an app listening on 127.0.0.1:0, and raw requests whose
 * header lines are sent exactly as given (two `Authorization` lines, huge headers).
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';

export interface Listening {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Serve `handler` on 127.0.0.1:0 (`maxHeaderSize` raised for pathological-header tests). */
export async function listen(handler: RequestListener, maxHeaderSize = 64 * 1024): Promise<Listening> {
  const server = createServer({ maxHeaderSize }, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    server,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: () => any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * Send a request over a plain socket, header lines exactly as given (`[name, value, name, value, …]`,
 * repeated names kept), `Connection: close`; the response is read to the end (the server closes). The head goes out as
 * UTF-8, or with `latin1Head` one byte per character (as a client sending obs-text would); the body as UTF-8.
 * `target`: the request target byte for byte (default: the URL's path and query, as the URL parser
 * normalised them), e.g. `/files/../mcp` or an absolute-form `http://h/mcp`.
 */
export function rawRequest(url: string, method: string, headerLines: string[], body?: string, { latin1Head = false, target }: { latin1Head?: boolean; target?: string } = {}): Promise<RawResponse> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      try {
        resolve(parseResponse(Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        reject(err);
      }
    });
    let head = `${method} ${target ?? `${u.pathname}${u.search}`} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n`;
    for (let i = 0; i < headerLines.length; i += 2) head += `${headerLines[i]}: ${headerLines[i + 1]}\r\n`;
    if (body !== undefined) head += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
    // No half-close: Node's server aborts a request whose client has ended its side (httpAllowHalfOpen
    // is off), so a handler that answers after an await would never be heard. `Connection: close`
    // has the server close once it has answered.
    socket.write(Buffer.concat([Buffer.from(`${head}\r\n`, latin1Head ? 'latin1' : 'utf8'), Buffer.from(body ?? '', 'utf8')]));
  });
}

function parseResponse(text: string): RawResponse {
  const split = text.indexOf('\r\n\r\n');
  const headLines = text.slice(0, split).split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(headLines[0] ?? '')?.[1] ?? 0);
  const headers: Record<string, string | string[] | undefined> = {};
  for (const line of headLines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const prev = headers[name];
    headers[name] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
  }
  let body = text.slice(split + 4);
  if (headers['transfer-encoding'] === 'chunked') {
    let out = '';
    for (;;) {
      const eol = body.indexOf('\r\n');
      const size = parseInt(body.slice(0, eol), 16);
      if (!size) break;
      out += body.slice(eol + 2, eol + 2 + size);
      body = body.slice(eol + 2 + size + 2);
    }
    body = out;
  }
  return { status, headers, body, json: () => JSON.parse(body) };
}
