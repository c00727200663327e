import type { IncomingMessage } from 'node:http';
import type { Request, RequestHandler } from 'express';
import { AppError } from '../errors/app-error';
import type { TokenService } from '../auth/jwt';
import type { Principal } from '../auth/principal';

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

const BEARER = /^Bearer ([A-Za-z0-9_\-.=]+)$/;

export function bearerToken(req: Pick<IncomingMessage, 'headers'>): string | undefined {
  const header = req.headers.authorization;
  if (header === undefined) return undefined;
  const m = BEARER.exec(header.trim());
  if (!m) throw new AppError('AUTH_INVALID', 'Authorization header must be "Bearer <token>"');
  return m[1];
}

export interface AuthDeps {
  tokens: TokenService;
  /** Keeps the users table in step with the claims of whoever calls. */
  syncUser: (caller: Principal) => Promise<void>;
  /** The per-user write limit (rate-limits.ts writeLimit), run after authentication; null when off. */
  writeLimit?: RequestHandler | null;
}

/** The caller of a request that must carry `Authorization: Bearer <jwt>`. */
export async function authenticateRequest(deps: AuthDeps, req: Pick<IncomingMessage, 'headers'>): Promise<Principal> {
  const token = bearerToken(req);
  if (token === undefined) throw new AppError('AUTH_REQUIRED', 'Authorization required');
  const principal = deps.tokens.verifyRemembered(token);
  await deps.syncUser(principal);
  return principal;
}

/** Requires `Authorization: Bearer <jwt>` and sets `req.principal`; then counts a write against its user. */
export function authenticate(deps: AuthDeps): RequestHandler {
  return async (req, res, next) => {
    req.principal = await authenticateRequest(deps, req);
    if (deps.writeLimit) return deps.writeLimit(req, res, next);
    next();
  };
}

export function principalOf(req: Request): Principal {
  if (!req.principal) throw new AppError('AUTH_REQUIRED', 'Authorization required');
  return req.principal;
}
