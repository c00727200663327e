/** The comparison's users and their tokens, and what jsonwebtoken costs in this process. */
import crypto from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Role } from '../src/contract/vocabulary';
import { tokenSigner } from '../test/support/actors';

export const JWT_SECRET = 'bench-only-jwt-secret-0123456789-abcdefghijklmnop';

export interface BenchUser {
  id: string;
  role: Role;
  token: string;
}

/** A token for the bench's servers (all started with JWT_SECRET), valid for an hour. */
export const sign = tokenSigner(JWT_SECRET);

/** Distinct users, roles mixed: 45% client, 45% provider, 10% admin. */
export function makeUsers(n: number): BenchUser[] {
  const run = crypto.randomBytes(3).toString('hex');
  return Array.from({ length: n }, (_, i) => {
    const role: Role = i % 10 === 9 ? 'admin' : i % 2 === 0 ? 'client' : 'provider';
    const id = `bench-${run}-${i}`;
    return { id, role, token: sign(id, role) };
  });
}

const KEY = crypto.createSecretKey(Buffer.from(JWT_SECRET, 'utf8'));

/** stack-notes §8: jsonwebtoken with a string secret vs a KeyObject, measured in this process. */
export function measureJwt(): { signUs: number; verifyStringUs: number; verifyKeyObjectUs: number } {
  const token = jwt.sign({ sub: 'x', role: 'client' }, KEY, { algorithm: 'HS256', expiresIn: 3600 });
  const time = (n: number, fn: () => void) => {
    for (let i = 0; i < Math.min(50, n); i++) fn();
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    return Number(process.hrtime.bigint() - t) / 1e3 / n;
  };
  return {
    signUs: time(2000, () => jwt.sign({ sub: 'x', role: 'client' }, KEY, { algorithm: 'HS256', expiresIn: 3600 })),
    verifyStringUs: time(500, () => jwt.verify(token, JWT_SECRET, { algorithms: ['HS256'] })),
    verifyKeyObjectUs: time(2000, () => jwt.verify(token, KEY, { algorithms: ['HS256'] })),
  };
}
