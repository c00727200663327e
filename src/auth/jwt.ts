import crypto, { type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { AppError } from '../http/app-error';
import { TokenClaims, type Principal, type Role } from './principal';
import { isUnstorable } from '../storage/storable-text';

export interface TokenService {
  verify(token: string): Principal;
  sign(claims: { sub: string; role: Role; name?: string; email?: string }, ttlSeconds: number): string;
}

/** HS256 only; the algorithm is pinned so a token cannot choose how it is checked. */
export function createTokenService(secret: string): TokenService {
  // A KeyObject, not the string: jsonwebtoken first tries to parse a string as a PEM key, which
  // costs ~15x per verify (shared/stack-notes.md §8).
  const key: KeyObject = crypto.createSecretKey(Buffer.from(secret, 'utf8'));
  return {
    verify(token) {
      let decoded: unknown;
      try {
        decoded = jwt.verify(token, key, { algorithms: ['HS256'] });
      } catch (err) {
        if (err instanceof jwt.TokenExpiredError) throw new AppError('AUTH_EXPIRED', 'Token has expired');
        throw new AppError('AUTH_INVALID', 'Token is invalid');
      }
      const claims = TokenClaims.safeParse(decoded);
      if (!claims.success) throw new AppError('AUTH_INVALID', 'Token claims are invalid');
      const { sub, role, exp, name, email } = claims.data;
      // Every request writes name and email to the users table, which cannot hold these: a 500 on
      // every call otherwise, however well signed the token.
      if ((name !== undefined && isUnstorable(name)) || (email !== undefined && isUnstorable(email))) {
        throw new AppError('AUTH_INVALID', 'Token claims are invalid');
      }
      return { userId: sub, role, expiresAt: new Date(exp * 1000), name, email };
    },
    sign(claims, ttlSeconds) {
      return jwt.sign(claims, key, { algorithm: 'HS256', expiresIn: ttlSeconds });
    },
  };
}
