/**
 * What the stream-recheck suites share: a loopback authorization server (introspection answers the
 * test sets), an injected clock, a guard for opaque tokens (`cacheMaxAgeSeconds` 60 unless given,
 * decision events recorded) and an app on 127.0.0.1 where `GET /mcp` opens an event stream the test
 * writes to and `POST /mcp` answers a JSON-RPC result, both behind `protect()`. Registers its own
 * `beforeAll`/`afterAll`.
 */
import express, { type Express, type RequestHandler, type Response } from 'express';
import { mcpAuth, type GuardEvent, type McpAuthGuard, type Options } from '../../lib/index.js';
import { fakeClock, type FakeClock } from './clock.js';
import { listen, type Listening } from './http.js';
import { startLoopbackAS, type IntrospectionAnswer, type LoopbackAS } from './loopback-as.js';
import { activeAnswer, opaqueOptions, opaqueToken, PING } from './opaque.js';
import { openStream, type Opened } from './sse-client.js';

export interface RecheckSuite {
  readonly as: LoopbackAS;
  readonly clock: FakeClock;
  /** Every guard event so far (clear it with `events.length = 0`). */
  readonly events: GuardEvent[];
  /** Open a `GET` stream with `token` (it must be allowed), and `headers`: the client side and the server's response. */
  open(token: string, headers?: Record<string, string>): Promise<{ s: Opened; res: Response }>;
  /** `POST` a ping with `token`: the status. */
  post(token: string): Promise<number>;
  /** The `stream_ended` events so far. */
  streamEnded(): GuardEvent[];
  /**
   * Let the authorization server answer every token active (`exp` two hours on, or `claims`)
   * until the returned `revoke()`, then inactive.
   */
  answerUntilRevoked(claims?: Record<string, unknown>): () => void;
  /**
   * Open a `GET` stream with a new opaque token (answered active), then age its answer past
   * `cacheMaxAgeSeconds`, so its next write asks again, and make that introspection wait:
   * `asked` resolves when it is asked, and it is answered `late()` once `answer()` is called.
   */
  openAged(late: () => IntrospectionAnswer['body']): Promise<{ s: Opened; res: Response; asked: Promise<void>; answer: () => void }>;
}

export interface RecheckSuiteSetup {
  /** Guard options beside the suite's (`introspection` is merged with the client credentials). */
  options?: Partial<Options>;
  /** The clock's start (ms). */
  startMs?: number;
  /** Handlers before `protect()` on `GET /mcp` (a spy on what reaches the response: {@link wireSpy}). */
  before?: RequestHandler[];
  /** Handlers after `protect()` on `GET /mcp` (a compressor, a second guard), made in `beforeAll` from the suite's server and clock. */
  after?: (as: LoopbackAS, clock: FakeClock) => RequestHandler[];
  /** How the `GET` handler starts its event stream (default: `writeHead(200, { 'Content-Type': 'text/event-stream' })`). */
  writeHead?: (res: Response) => void;
  /** App settings, before the routes (`app.disable('x-powered-by')`). */
  configure?: (app: Express) => void;
}

const eventStream = (res: Response): void => { res.writeHead(200, { 'Content-Type': 'text/event-stream' }); };

export function recheckSuite({ options = {}, startMs, before = [], after, writeHead = eventStream, configure }: RecheckSuiteSetup = {}): RecheckSuite {
  const clock = fakeClock(startMs);
  const events: GuardEvent[] = [];
  const opened: Response[] = [];
  let as: LoopbackAS | undefined;
  let guard: McpAuthGuard | undefined;
  let srv: Listening | undefined;
  beforeAll(async () => {
    as = await startLoopbackAS();
    guard = mcpAuth(opaqueOptions(as, { clock, cacheMaxAgeSeconds: 60, onEvent: (e) => { events.push(e); }, ...options }));
    const app = express();
    configure?.(app);
    app.get('/mcp', ...before, guard.protect(), ...(after?.(as, clock) ?? []), (_req, res) => {
      writeHead(res);
      res.flushHeaders();
      opened.push(res);
    });
    app.post('/mcp', express.json(), guard.protect(), (_req, res) => { res.json({ jsonrpc: '2.0', id: 1, result: {} }); });
    srv = await listen(app);
  });
  afterAll(async () => {
    await srv?.close();
    await guard?.close();
    await as?.close();
  });
  async function open(token: string, headers: Record<string, string> = {}): Promise<{ s: Opened; res: Response }> {
    const s = await openStream(`${srv!.url}/mcp`, token, 'GET', undefined, headers);
    expect(s.res.statusCode).toBe(200);
    return { s, res: opened.at(-1)! };
  }
  return {
    get as() { return as!; },
    clock,
    events,
    open,
    async post(token) {
      const r = await fetch(`${srv!.url}/mcp`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(PING) });
      await r.arrayBuffer();
      return r.status;
    },
    streamEnded: () => events.filter((e) => e.type === 'stream_ended'),
    async openAged(late) {
      let again = false;
      let asked!: () => void;
      const askedP = new Promise<void>((r) => { asked = r; });
      let answer!: () => void;
      const answered = new Promise<void>((r) => { answer = r; });
      as!.introspect = () => {
        if (!again) return { body: activeAnswer(as!, clock.seconds()) };
        asked();
        return answered.then(() => ({ body: late() }));
      };
      const { s, res } = await open(opaqueToken());
      again = true;
      clock.advance((options.cacheMaxAgeSeconds ?? 60) * 1000 + 1);
      return { s, res, asked: askedP, answer };
    },
    answerUntilRevoked(claims) {
      let revoked = false;
      as!.introspect = () => ({ body: revoked ? { active: false } : activeAnswer(as!, clock.seconds(), claims ?? { exp: clock.seconds() + 7200 }) });
      return () => { revoked = true; };
    },
  };
}

/**
 * A spy to mount before `protect()`: what reached the response beneath every hook after it, per
 * response (`write` data, and `end` data, which Node writes without calling `res.write`).
 */
export function wireSpy(): { handler: RequestHandler; sent: (res: Response) => string[] } {
  const logs = new WeakMap<Response, string[]>();
  const handler: RequestHandler = (_req, res, next) => {
    const log: string[] = [];
    logs.set(res, log);
    const write = res.write;
    const end = res.end;
    res.write = function (this: Response, ...args: unknown[]) {
      log.push(String(args[0]));
      return (write as (...a: unknown[]) => boolean).apply(this, args);
    } as Response['write'];
    res.end = function (this: Response, ...args: unknown[]) {
      if (args[0] !== undefined && typeof args[0] !== 'function') log.push(String(args[0]));
      return (end as (...a: unknown[]) => Response).apply(this, args);
    } as Response['end'];
    next();
  };
  return { handler, sent: (res) => logs.get(res)! };
}

/** Let the event loop turn until `cond()`, at most `turns` times (no timers). */
export async function turnsUntil(cond: () => boolean, turns = 2000): Promise<void> {
  for (let i = 0; i < turns && !cond(); i++) await new Promise<void>((r) => setImmediate(r));
}
