import { createTokenService } from '../../src/auth/jwt';
import type { Role } from '../../src/contract/vocabulary';
import { TEST_JWT_SECRET } from './env';

/*
 * Signed-in users for servers the caller did not start in its own process (server processes, the
 * bench's): a token the server's own token service would issue, signed with the secret the server
 * was started with.
 */

export interface Actor {
  sub: string;
  role: Role;
  token: string;
}

export type SignToken = (sub: string, role: Role, extra?: { email?: string; name?: string }, ttlSeconds?: number) => string;

/** Signs tokens for a server started with `secret` (an hour unless `ttlSeconds` says otherwise). */
export function tokenSigner(secret: string): SignToken {
  const tokens = createTokenService(secret);
  return (sub, role, extra = {}, ttlSeconds = 3600) => tokens.sign({ sub, role, ...extra }, ttlSeconds);
}

const signTest = tokenSigner(TEST_JWT_SECRET);

/** A user of a test server (TEST_JWT_SECRET), with an email so every channel can reach them. */
export function actor(sub: string, role: Role, ttlSeconds = 3600): Actor {
  return { sub, role, token: signTest(sub, role, { email: `${sub}@example.co.za` }, ttlSeconds) };
}

/** `prefix-c<i>` clients, `prefix-p<i>` providers and `prefix-a<i>` admins (one unless `admins` says). */
export function cast(prefix: string, counts: { clients: number; providers: number; admins?: number }) {
  const clients = Array.from({ length: counts.clients }, (_, i) => actor(`${prefix}-c${i}`, 'client'));
  const providers = Array.from({ length: counts.providers }, (_, i) => actor(`${prefix}-p${i}`, 'provider'));
  const admins = Array.from({ length: counts.admins ?? 1 }, (_, i) => actor(`${prefix}-a${i}`, 'admin'));
  return { clients, providers, admins, all: [...clients, ...providers, ...admins] };
}
