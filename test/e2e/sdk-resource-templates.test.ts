/**
 * `resources/templates/list` under `resourceScopes`, end to end with the real
 * @modelcontextprotocol/sdk: an McpServer with three resource templates behind protect()
 * (stateless StreamableHTTPServerTransport, SSE answers), a real SDK Client with a bearer token.
 * A template is listed when its expansions may fall under a rule the token satisfies; reading
 * still goes by the URI.
 */
import express from 'express';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { mcpAuth, type Options } from '../../lib/index.js';
import { loopbackJwtSuite } from '../helpers/fixture.js';
import { listen, type Listening } from '../helpers/http.js';

const RESOURCE = 'http://127.0.0.1:9/mcp';
const fx = loopbackJwtSuite(RESOURCE);
let srv: Listening;
let url: URL;

beforeAll(async () => {
  const guard = fx.track(mcpAuth({ resource: RESOURCE, issuer: fx.as.issuer, jwksUri: fx.as.jwksUri, resourceScopes: { 'notes://': ['notes:admin'], 'notes://public/': ['notes:read'] } } as Options));
  const app = express();
  app.use(express.json());
  app.post('/mcp', guard.protect(), async (req, res) => {
    const mcp = new McpServer({ name: 'notes', version: '1.0.0' });
    for (const [name, template] of [['public note', 'notes://public/{id}'], ['any note', 'notes://{path}'], ['private note', 'notes://private/{id}']] as const) {
      mcp.registerResource(name, new ResourceTemplate(template, { list: undefined }), { mimeType: 'text/plain' }, (uri) => ({ contents: [{ uri: uri.href, text: name }] }));
    }
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => { void transport.close(); void mcp.close(); });
    await mcp.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  srv = await listen(app);
  url = new URL(`${srv.url}/mcp`);
});
afterAll(async () => { await srv?.close(); });

async function templatesFor(scope: string): Promise<string[]> {
  const token = await fx.token({ scope });
  const client = new Client({ name: 'templates-e2e', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  try {
    const { resourceTemplates } = await client.listResourceTemplates();
    return resourceTemplates.map((t) => t.uriTemplate);
  } finally {
    await client.close();
  }
}

test('notes:read: the templates whose expansions may fall under notes://public/; notes:admin: those that may fall under notes://; both: all three', async () => {
  expect(await templatesFor('notes:read')).toEqual(['notes://public/{id}', 'notes://{path}']);
  expect(await templatesFor('notes:admin')).toEqual(['notes://{path}', 'notes://private/{id}']);
  expect(await templatesFor('notes:read notes:admin')).toEqual(['notes://public/{id}', 'notes://{path}', 'notes://private/{id}']);
});
