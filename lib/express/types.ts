/**
 * `req.auth` on Express requests: the MCP SDK's `AuthInfo` (the SDK declares the same property,
 * with the same type, so both augmentations merge).
 */
import type { AuthInfo } from '../types.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** Set by `protect()` when the request is allowed. */
    auth?: AuthInfo;
  }
}

export {};
