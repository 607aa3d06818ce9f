/**
 * `protect()`: the Express edge of the guard. Turns `req` into bearer input, verifies the token,
 * with `dpop` on checks its binding and the request's DPoP proof (`verify/dpop.ts`),
 * checks that an `Mcp-Session-Id` is the token's identity's (`bindSessions`), applies required,
 * route and tool scopes, sets `req.auth`, and calls `next()` only when allowed. On the way out it
 * binds a session an `initialize` answer issues, releases one its owner's `DELETE` ends, and ends
 * a GET or `subscriptions/listen` event stream when its token expires, or (introspected) when the
 * authorization server no longer vouches for it (`stream-expiry.ts`, `verify/recheck.ts`). Under
 * a tool policy it also refuses MCP 2026-07-28 standard headers (`Mcp-Method`, `Mcp-Name`) that do
 * not name what the body does (`policy/standard-headers.ts`), and filters list answers, those
 * replayed on a resumed `GET` stream included (`filter-list.ts`).
 * Every failure goes to the one responder; the handler never runs after one.
 *
 * It answers GET, HEAD and OPTIONS of its RFC 9728 metadata paths itself with the document (any
 * other method there is checked like every request). Mounted app-wide (`app.use(auth.protect())`)
 * it lets CORS preflights (`OPTIONS` with `Access-Control-Request-Method` and no body: a browser
 * never sends one with a body) through untouched; inside a route it skips the rest of the route
 * for them. `requireScopes()` lets preflights through too.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { assertTokenGrammar, bearerCredential, isDpopScheme } from '../bearer.js';
import { AuthMisconfiguredError, HeaderMismatchError, InsufficientScopeError, SessionNotFoundError } from '../errors.js';
import { decisionEvent, startTrace, streamEndedEvent, type DecisionTrace, type GuardEventListener } from '../events.js';
import type { Config } from '../options.js';
import { holdsAll, isScopeToken, routeScopes, stepUpScopes } from '../policy/scopes.js';
import { quotaOwnerOf, type Bindings } from '../policy/bindings.js';
import { headerMismatch } from '../policy/standard-headers.js';
import type { Policy } from '../policy/tools.js';
import type { AuthInfo } from '../types.js';
import type { DpopProofChecker } from '../verify/dpop.js';
import type { Verifier } from '../verify/index.js';
import { streamRecheck } from '../verify/recheck.js';
import { hasBody } from './body.js';
import { mayOpenSession, watchSessionEnd, watchSessionIssue } from './sessions.js';
import { endStreamWithToken } from './stream-expiry.js';
import { sendNonce, type Responder } from './respond.js';

/** What `protect()` needs from the guard, built once by `mcpAuth()`. */
export interface ProtectContext {
  config: Config;
  verifier: Verifier;
  respond: Responder;
  policy: Policy | undefined;
  /**
   * Scopes a 403 repeats when the token was granted them: {@link knownScopesOf} (`scopesSupported`,
   * `requiredScopes`, the policy's and `scopeImplies`' scopes) and every `protect({ scopes })`'s
   * (`requireScopes()`' are in `routeScopes`).
   */
  knownScopes: Set<string>;
  /**
   * With a policy: examine (and when no parser ran, read and parse) the body the policy checks
   * (`lib/express/body.ts`); `undefined` when done synchronously, else a promise. Throws or rejects
   * with an `InvalidRequestError`.
   */
  readBody?: (req: Request) => Promise<void> | undefined;
  /** With `bindSessions`: which identity each `Mcp-Session-Id` belongs to (bound when issued). */
  sessions: Bindings | undefined;
  /** With a policy: wrap the response of an allowed request whose answers it filters or reads (lists, task creations, 2026 `resources/read` for its `cacheScope`; every list answer of a resumed `GET` stream). */
  filterLists?: (req: Request, res: Response, auth: AuthInfo) => void;
  /** The `onEvent` emitter, `undefined` without a listener (then no trace is kept at all). */
  emit?: GuardEventListener | undefined;
  /** Answers a request for the RFC 9728 document (what `metadata()` serves): `protect()` answers the metadata paths itself. */
  sendMetadata: (req: Request, res: Response) => void;
  /** With `dpop` on: the DPoP proof checker (`lib/verify/dpop.ts`). */
  dpop?: DpopProofChecker | undefined;
}

/** Options of `guard.protect()`. */
export interface ProtectOptions {
  /** Extra scopes this route requires (all of them), on top of `requiredScopes`. */
  scopes?: readonly string[];
  /**
   * Apply the tool policy (`toolScopes`, `promptScopes`, `resourceScopes`: body checks, default
   * deny, list filtering, the standard-header check) on this route. Default true. Set `false` on routes that are not MCP
   * endpoints (uploads, forms, admin APIs), so their non-JSON bodies are not refused: only
   * `requiredScopes` and `scopes` apply there.
   */
  toolPolicy?: boolean;
}

/**
 * The guard that allowed each `AuthInfo` (for `requireScopes`). Keyed by the cached `AuthInfo`
 * rather than stored on `req`: no per-request property on the request object.
 */
const owners = new WeakMap<AuthInfo, ProtectContext>();
/** CORS preflights `protect()` let through unchecked, for `requireScopes()`. */
const passedThrough = new WeakSet<Request>();
const TRACE = Symbol('mcp-oauth-guard.trace');

/** A CORS preflight: `OPTIONS` with `Access-Control-Request-Method` and no body (Fetch never sends one). */
function isPreflight(req: Request): boolean {
  return req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined && !hasBody(req);
}

/**
 * The one place that emits a decision event (`allow` when `err` is undefined, else `deny`).
 * Called only when a listener is set.
 */
function emitDecision(ctx: ProtectContext, req: Request, info: AuthInfo | undefined, err: unknown, trace: DecisionTrace): void {
  ctx.emit!(decisionEvent(trace, ctx.config.tokenFormat, info, err, req.body));
}

/** The trace `protect()` started on this request, if it did. */
function traceOf(req: Request): DecisionTrace | undefined {
  return (req as unknown as Record<symbol, DecisionTrace | undefined>)[TRACE];
}

/**
 * A header that may appear once, given its `req.headers` value: `undefined` when absent, every
 * raw value when the request carried several lines of it (Node keeps the first, or joins them, in
 * `req.headers`), else that value (a list, when a middleware set one: its values count as lines).
 * A value an earlier middleware set on `req.headers` is honoured. `name` is lower case, `spelled` its usual spelling (compared
 * first, so the usual request costs no lower-casing).
 */
function headerLines(req: Request, name: string, spelled: string, value: string | string[] | undefined): string | string[] | undefined {
  if (value === undefined) return undefined;
  // (A list a middleware set is taken as it is, unless the request itself carried several lines.)
  const raw = req.rawHeaders;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    if (n.length === name.length && (n === spelled || n === name || n.toLowerCase() === name)) count++;
  }
  if (count <= 1) return value;
  const lines: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === name.length && raw[i]!.toLowerCase() === name) lines.push(raw[i + 1]!);
  return lines;
}

/** The `Authorization` header values (every line: two are refused). */
function authorizationHeaders(req: Request, first: string | undefined): readonly string[] {
  const v = headerLines(req, 'authorization', 'Authorization', first);
  return v === undefined ? [] : typeof v === 'string' ? [v] : v;
}

/**
 * The DPoP proof each request was found valid with, and by which guard's checker: a second
 * `protect()` of the same guard on the same request (one app-wide, one on the route) does not
 * check it again, which its replay record would refuse.
 */
const proven = new WeakMap<Request, { dpop: DpopProofChecker; proof: string; token: string }>();

/** The `DPoP` header values (every line: two are refused). */
function dpopHeaders(req: Request): readonly string[] {
  const v = headerLines(req, 'dpop', 'DPoP', req.headers.dpop);
  return v === undefined ? [] : typeof v === 'string' ? [v] : v;
}

/**
 * With DPoP on: the token's binding and the request's scheme agree (`DpopProofChecker.binding`), and a
 * `DPoP` request's proof is made with the token's key (`DpopProofChecker`), unless this guard
 * already found this very proof valid for this request.
 * @throws {InvalidTokenError} `token_bound_to_key`, `token_not_bound`.
 * With nonces on, hands out the current nonce when the proof's is accepted but older (`DPoP-Nonce`).
 * @throws {InvalidDpopProofError} from the proof check (and its `UseDpopNonceError`, `AuthUnavailableError`).
 */
function checkProof(dpop: DpopProofChecker, req: Request, res: Response, info: AuthInfo, usedDpop: boolean): void {
  const jkt = dpop.binding(info, usedDpop ? 'dpop' : 'bearer');
  if (jkt === undefined) return;
  const proofs = dpopHeaders(req);
  const before = proven.get(req);
  if (before !== undefined && before.dpop === dpop && proofs.length === 1 && proofs[0] === before.proof && before.token === info.token) return;
  const nonce = dpop.check({ proofs, token: info.token, jkt, owner: quotaOwnerOf(info), method: req.method, target: req.originalUrl ?? req.url });
  proven.set(req, { dpop, proof: proofs[0]!, token: info.token });
  // (RFC 9449 §9: the next proof's nonce, when this one's is about to expire.)
  if (nonce !== undefined) sendNonce(res, nonce);
}

/** `access_token` in the query string, percent-encoded names included (parsed only when it may be there). */
function tokenInQuery(url: string): boolean {
  const q = url.indexOf('?');
  if (q === -1) return false;
  const query = url.slice(q + 1);
  if (!query.includes('access_token') && !query.includes('%')) return false;
  return new URLSearchParams(query).has('access_token');
}

function tokenInBody(body: unknown, headers: Request['headers']): boolean {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return false;
  if (!Object.prototype.hasOwnProperty.call(body, 'access_token')) return false;
  const type = headers['content-type'];
  return typeof type === 'string' && type.toLowerCase().startsWith('application/x-www-form-urlencoded');
}

/**
 * A 2026-07-28 `subscriptions/listen` request (its answer is a stream that stays open): by its
 * body, or, when no one parsed the body (no tool policy, a parser after `protect()`), by its
 * `Mcp-Method` header (a 2026 server refuses a header that disagrees with the body).
 */
function opensListen(req: Request): boolean {
  return isListen(req.body) || req.headers['mcp-method'] === 'subscriptions/listen';
}

function isListen(body: unknown): boolean {
  if (Array.isArray(body)) return body.some(isListen);
  // (Every allowed POST comes here: no array made for a single message.)
  return body !== null && typeof body === 'object' && (body as { method?: unknown }).method === 'subscriptions/listen';
}

/** Build the named middleware of `guard.protect(opts)`. */
export function protectMiddleware(ctx: ProtectContext, opts: ProtectOptions = {}): RequestHandler {
  const { config: c, verifier, respond, knownScopes, sessions } = ctx;
  if (opts === null || typeof opts !== 'object') throw new TypeError('protect(opts): opts must be an object');
  for (const key of Object.keys(opts)) {
    if (key !== 'scopes' && key !== 'toolPolicy' && (opts as Record<string, unknown>)[key] !== undefined) throw new TypeError(`protect(): unknown option "${key}"`);
  }
  if (opts.scopes !== undefined && (!Array.isArray(opts.scopes) || !opts.scopes.every(isScopeToken))) {
    throw new TypeError('protect({ scopes }): scopes must be an array of scopes (RFC 6749: printable ASCII, no spaces, no " or \\)');
  }
  if (opts.scopes?.includes('offline_access')) throw new TypeError('protect({ scopes }): "offline_access" asks for a refresh token, not for access to this resource');
  if (opts.toolPolicy !== undefined && typeof opts.toolPolicy !== 'boolean') throw new TypeError('protect({ toolPolicy }): toolPolicy must be a boolean');
  const policy = opts.toolPolicy === false ? undefined : ctx.policy;
  const filterLists = policy ? ctx.filterLists : undefined;
  const needed = Object.freeze([...new Set([...c.requiredScopes, ...(opts.scopes ?? [])])]);
  // A route's scopes are scopes this server knows: a later 403 keeps them when the token holds them.
  for (const s of opts.scopes ?? []) knownScopes.add(s);
  const metadataPaths = new Set(c.resourceMetadataPaths);
  const maxTokenBytes = c.maxTokenBytes;
  const emit = ctx.emit;
  const dpop = ctx.dpop;
  const dpopMode = c.dpop;
  /** The responder, preceded by the deny event when a listener is set. */
  const fail: (req: Request, res: Response, err: unknown, info?: AuthInfo) => void = emit === undefined ? respond : (req, res, err, info) => {
    emitDecision(ctx, req, info, err, traceOf(req)!);
    respond(req, res, err);
  };

  /** `session`: the request's `Mcp-Session-Id` (read when sessions are bound), already found the token's. */
  function allowed(req: Request, res: Response, next: NextFunction, info: AuthInfo, session: string | undefined): void {
    // (Read once: the body as the policy read it, when it had to read it itself.)
    const body: unknown = req.body;
    try {
      if (policy) {
        // MCP 2026-07-28 (SEP-2243): a standard header there must name what the body does.
        const headers = req.headers;
        const mismatch = headerMismatch(headerLines(req, 'mcp-method', 'Mcp-Method', headers['mcp-method']), headerLines(req, 'mcp-name', 'Mcp-Name', headers['mcp-name']), body);
        if (mismatch !== undefined) throw new HeaderMismatchError({ description: mismatch });
        // The policy checks the route's scopes together with the calls', so one 403 names them all.
        policy.check(body, info, needed);
      } else if (!holdsAll(info.scopes, needed)) {
        throw new InsufficientScopeError({ reason: 'insufficient_scope', scope: stepUpScopes(needed, info.scopes, knownScopes) });
      }
    } catch (err) {
      fail(req, res, err, info);
      return;
    }
    if (emit !== undefined) emitDecision(ctx, req, info, undefined, traceOf(req)!);
    if (owners.get(info) !== ctx) owners.set(info, ctx);
    req.auth = info;
    if (filterLists) filterLists(req, res, info);
    // A GET, a listen, or a POST whose body a parser after protect() has yet to read (decided at
    // its first write); not every ordinary POST (three wrappers on `res` are not free, and a parsed
    // body that is no listen settles it: a header saying otherwise, the server refuses).
    const method = req.method;
    if (info.expiresAt !== undefined && (method === 'GET' || (method === 'POST' && (body === undefined || isListen(body))))) {
      // An introspected token is asked about again once its answer is older than cacheMaxAgeSeconds
      // or at its exp (recheck.ts); any token ends the stream when the guard stops accepting it
      // (exp + clockTolerance).
      const recheck = streamRecheck(verifier, info, c);
      endStreamWithToken(res, {
        span: recheck?.span ?? { answeredAtMs: -Infinity, askAgainAtMs: Infinity, expiresAtMs: (info.expiresAt + c.clockTolerance) * 1000 },
        clock: c.clock,
        applies: () => req.method === 'GET' || opensListen(req),
        ended: (reason) => emit?.(streamEndedEvent(info, reason)),
        recheck: recheck?.run,
      });
    }
    if (sessions !== undefined) {
      if (session === undefined) {
        if (mayOpenSession(body)) watchSessionIssue(res, (id) => sessions.bind(id, info));
      } else if (method === 'DELETE') {
        watchSessionEnd(res, () => sessions.release(session, info));
      }
    }
    next();
  }

  /** The token is good: its DPoP binding, its session, then (the body read when the policy needs it) its scopes. */
  function afterBody(req: Request, res: Response, next: NextFunction, info: AuthInfo, usedDpop: boolean): void {
    if (dpop !== undefined) {
      try {
        checkProof(dpop, req, res, info, usedDpop);
      } catch (err) {
        fail(req, res, err, info);
        return;
      }
    }
    const header = sessions === undefined ? undefined : req.headers['mcp-session-id'];
    if (header !== undefined && (typeof header !== 'string' || !sessions!.owns(header, info))) {
      fail(req, res, new SessionNotFoundError(), info);
      return;
    }
    const session = typeof header === 'string' ? header : undefined;
    let pending: Promise<void> | undefined;
    try {
      pending = policy && ctx.readBody ? ctx.readBody(req) : undefined;
    } catch (err) {
      fail(req, res, err, info);
      return;
    }
    if (pending) {
      pending.then(() => allowed(req, res, next, info, session), (err: unknown) => fail(req, res, err, info));
    } else {
      allowed(req, res, next, info, session);
    }
  }

  return function mcpAuthProtect(req: Request, res: Response, next: NextFunction): void {
    const method = req.method;
    if ((method === 'GET' || method === 'HEAD' || method === 'OPTIONS') && metadataPaths.has(req.baseUrl + req.path)) {
      // Answered here, with the document metadata() serves, wherever protect() is mounted: no
      // later handler whose route matches the path gets it without a token. (Whether protect()
      // runs in a route's own stack cannot be told from req.route, which Express leaves set after
      // an earlier route called next().)
      ctx.sendMetadata(req, res);
      return;
    }
    if (method === 'OPTIONS' && isPreflight(req)) {
      passedThrough.add(req);
      // Inside a route's own stack (app.all(path, protect(), handler)), skip the rest of that
      // route, so its handler never runs without a token (outside a route, next('route') is
      // next()); later routes and middleware (a CORS handler) still see it.
      next(req.route === undefined ? undefined : 'route');
      return;
    }
    let trace: DecisionTrace | undefined;
    if (emit !== undefined) (req as unknown as Record<symbol, unknown>)[TRACE] = trace = startTrace();
    let token: string;
    // (With DPoP on: whether the credential used that scheme.)
    let usedDpop = false;
    try {
      const headers = req.headers;
      const authorization = authorizationHeaders(req, headers.authorization);
      token = bearerCredential({
        authorization,
        tokenInQuery: tokenInQuery(req.originalUrl ?? req.url),
        tokenInBody: tokenInBody(req.body, headers),
      }, maxTokenBytes, dpopMode);
      if (dpop !== undefined) usedDpop = isDpopScheme(authorization[0]!);
    } catch (err) {
      fail(req, res, err);
      return;
    }
    let result: AuthInfo | Promise<AuthInfo>;
    try {
      // The grammar is checked on a cache miss only (a cached token passed it when first verified).
      result = verifier.verify(token, trace, assertTokenGrammar);
    } catch (err) {
      fail(req, res, err);
      return;
    }
    if (trace !== undefined) trace.token = token;
    if (result instanceof Promise) {
      result.then((info) => afterBody(req, res, next, info, usedDpop), (err: unknown) => fail(req, res, err));
    } else {
      afterBody(req, res, next, result, usedDpop);
    }
  };
}

/**
 * Standalone middleware for after `protect()`: 403 `insufficient_scope` unless `req.auth` holds
 * every one of `scopes` (the 403's `scope=` names them, `requiredScopes`, and the known scopes the
 * token holds). CORS preflights `protect()` let through unchecked pass. Used
 * without `protect()` before it, it passes an `AuthMisconfiguredError` to `next(err)` (the
 * application's error handler answers 500; the handler never runs).
 *
 * @example app.post('/admin', auth.protect(), requireScopes('admin'), handler)
 */
export function requireScopes(...scopes: string[]): RequestHandler {
  if (!scopes.every(isScopeToken)) {
    throw new TypeError('requireScopes(...scopes): each scope must be a scope (RFC 6749: printable ASCII, no spaces, no " or \\)');
  }
  if (scopes.includes('offline_access')) throw new TypeError('requireScopes(...scopes): "offline_access" asks for a refresh token, not for access to this resource');
  const needed = Object.freeze([...new Set(scopes)]);
  for (const s of needed) routeScopes.add(s);
  return function mcpAuthRequireScopes(req: Request, res: Response, next: NextFunction): void {
    const info = req.auth;
    if (info === undefined && passedThrough.has(req)) return next();
    const ctx = info === undefined ? undefined : owners.get(info);
    if (!ctx || !info) {
      // Misuse: fail closed and let the application's error handler answer (500).
      next(new AuthMisconfiguredError({ reason: 'invalid_options', description: 'requireScopes() needs protect() before it' }));
      return;
    }
    if (!holdsAll(info.scopes, needed)) {
      const err = new InsufficientScopeError({ reason: 'insufficient_scope', scope: stepUpScopes([...needed, ...ctx.config.requiredScopes], info.scopes, ctx.knownScopes) });
      if (ctx.emit !== undefined) {
        // Its own duration (the time since protect() includes the application's middleware), with
        // what protect() learned of the token.
        const trace = startTrace();
        const seen = traceOf(req);
        if (seen !== undefined) { trace.token = seen.token; trace.cached = seen.cached; }
        emitDecision(ctx, req, info, err, trace);
      }
      ctx.respond(req, res, err);
      return;
    }
    next();
  };
}
