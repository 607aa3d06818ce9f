/**
 * RFC 6750 §3: "Values for the "error_description" attribute (if present) MUST NOT include
 * characters outside the set %x20-21 / %x23-5B / %x5D-7E" — no `"` (%x22) and no `\` (%x5C), not
 * even escaped. Some invalid_token descriptions named a claim in double quotes
 * (`The access token "exp" claim is invalid`), which the serializer escaped as `\"exp\"`: both
 * forbidden characters ended up in the 401 challenge.
 */
import express from 'express';
import request from 'supertest';
import { mcpAuth, type McpAuthGuard } from '../../lib/index.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);
let app: express.Express;
let strictApp: express.Express;

beforeAll(() => {
  const g: McpAuthGuard = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri }));
  const s: McpAuthGuard = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, strict: true }));
  app = express();
  app.post('/mcp', g.protect(), (_req, res) => { res.json({ ok: true }); });
  strictApp = express();
  strictApp.post('/mcp', s.protect(), (_req, res) => { res.json({ ok: true }); });
});

/** The raw (still quoted-string encoded) error_description of a Bearer challenge. */
function rawDescription(header: string): string | undefined {
  const m = /error_description="((?:[^"\\]|\\.)*)"/.exec(header);
  return m?.[1];
}

test.each([
  ['a token without exp', 'default', { exp: undefined }],
  ['a token whose exp is a string', 'default', { exp: 'tomorrow' }],
  ['a strict-mode token without jti', 'strict', { jti: undefined }],
])('%s (%s guard): 401 invalid_token whose error_description uses only RFC 6750 characters', async (_label, which, claims) => {
  const token = await fx.token(claims as Record<string, unknown>);
  const res = await request(which === 'strict' ? strictApp : app).post('/mcp').set('Authorization', `Bearer ${token}`).send({});
  expect(res.status).toBe(401);
  const header = String(res.headers['www-authenticate']);
  expect(header).toMatch(/^Bearer error="invalid_token"/);
  const raw = rawDescription(header);
  expect(raw).toBeDefined();
  // %x20-21 / %x23-5B / %x5D-7E
  expect(raw).toMatch(/^[\x20\x21\x23-\x5B\x5D-\x7E]*$/);
});
