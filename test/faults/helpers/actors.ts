import { createTokenService } from '../../../src/auth/jwt';
import { TEST_JWT_SECRET } from '../../support/test-server';
import type { Actor } from './traffic';

const tokens = createTokenService(TEST_JWT_SECRET);

/** Signed-in users for the real server processes (they share TEST_JWT_SECRET). */
export function actor(sub: string, role: Actor['role'], ttlSeconds = 3600): Actor {
  return { sub, role, token: tokens.sign({ sub, role, email: `${sub}@example.co.za` }, ttlSeconds) };
}

export function cast(prefix: string, counts: { clients: number; providers: number; admins?: number }) {
  const clients = Array.from({ length: counts.clients }, (_, i) => actor(`${prefix}-c${i}`, 'client'));
  const providers = Array.from({ length: counts.providers }, (_, i) => actor(`${prefix}-p${i}`, 'provider'));
  const admins = Array.from({ length: counts.admins ?? 1 }, (_, i) => actor(`${prefix}-a${i}`, 'admin'));
  return { clients, providers, admins, all: [...clients, ...providers, ...admins] };
}
