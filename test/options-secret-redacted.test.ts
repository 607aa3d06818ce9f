/**
 * The introspection client secret stays readable on `auth.config` (the guard uses it), but is not
 * enumerable: logging the configuration (`console.log(auth.config)`, `JSON.stringify`, a spread)
 * does not write it out.
 */
import { inspect } from 'node:util';
import { mcpAuth } from '../lib/index.js';

const SECRET = 's3cret-value-7f1c';

test('config.introspection.clientSecret is readable and never written by inspect, JSON or a spread', async () => {
  const guard = mcpAuth({ resource: 'https://mcp.example.com/mcp', issuer: 'https://auth.example.com', introspection: { clientId: 'rs', clientSecret: SECRET } });
  try {
    expect(guard.config.introspection?.clientSecret).toBe(SECRET);
    expect(inspect(guard.config, { depth: 10 })).not.toContain(SECRET);
    expect(JSON.stringify(guard.config)).not.toContain(SECRET);
    expect(JSON.stringify({ ...guard.config.introspection })).not.toContain(SECRET);
    expect(Object.isFrozen(guard.config.introspection)).toBe(true);
  } finally {
    await guard.close();
  }
});
