import request from 'supertest';
import { buildApp } from '../helpers/app.js';
import { startTestProvider, type TestProvider } from '../helpers/oidc-provider.js';

const MCP = 'http://127.0.0.1:8123/mcp';
const OTHER = 'http://127.0.0.1:8124/api';
let op: TestProvider;

beforeAll(async () => {
  op = await startTestProvider({ [MCP]: { format: 'jwt', scope: 'mcp notes:read' }, [OTHER]: { format: 'jwt', scope: 'mcp' } });
});
afterAll(() => op.close());

describe('JWT access tokens from a real oidc-provider', () => {
  test('a token for this resource passes; one for another resource is refused (audience)', async () => {
    const t = buildApp({ resource: MCP, issuer: op.issuer, strict: true });
    const good = await op.getToken(MCP, 'mcp notes:read');
    const ok = await request(t.app).post('/mcp').set('Authorization', `Bearer ${good}`).send({ jsonrpc: '2.0', id: 1, method: 'ping' });
    expect(ok.status).toBe(200);
    expect([...(t.lastAuth() as { scopes: string[] }).scopes].sort()).toEqual(['mcp', 'notes:read']);
    const foreign = await op.getToken(OTHER, 'mcp');
    const bad = await request(t.app).post('/mcp').set('Authorization', `Bearer ${foreign}`).send({ jsonrpc: '2.0', id: 2, method: 'ping' });
    expect(bad.status).toBe(401);
    expect(bad.body.error.data.error).toBe('invalid_token');
    expect(t.calls()).toBe(1);
    await t.guard.close();
  });
});
