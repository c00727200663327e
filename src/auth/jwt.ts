import crypto, { type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { LRUCache } from 'lru-cache';
import { AppError } from '../errors/app-error';
import { TokenClaims, type Principal } from './principal';
import type { Role } from '../contract/vocabulary';
import { isUnstorable } from '../storage/storable-text';

export interface TokenService {
  /** Checks the token completely. For what verifies once and then holds on (a stream). */
  verify(token: string): Principal;
  /**
   * The same answer as `verify`, but a token that passed before is known by its exact text and
   * only its expiry is checked again. For requests: a phone polling every few seconds sends the
   * same token each time, and the HMAC and claim checks cost more than answering an empty poll.
   */
  verifyRemembered(token: string): Principal;
  sign(claims: { sub: string; role: Role; name?: string; email?: string }, ttlSeconds: number): string;
}

/** Tokens remembered by `verifyRemembered`: a few MB at most, and the least recently used go first. */
const REMEMBERED_TOKENS = 10_000;

/** What a token must satisfy beyond its signature (config: JWT_ISSUER, JWT_AUDIENCE, JWT_MAX_LIFETIME). */
export interface TokenPolicy {
  issuer?: string;
  audience?: string;
  /** Seconds from `iat` (or from now, without one) to `exp`. */
  maxLifetimeSeconds: number;
}

export const DEFAULT_TOKEN_POLICY: TokenPolicy = { maxLifetimeSeconds: 30 * 86_400 };

export const tokenPolicyOf = (c: { JWT_ISSUER?: string; JWT_AUDIENCE?: string; JWT_MAX_LIFETIME: number }): TokenPolicy => ({
  issuer: c.JWT_ISSUER,
  audience: c.JWT_AUDIENCE,
  maxLifetimeSeconds: c.JWT_MAX_LIFETIME,
});

/** HS256 only; the algorithm is pinned so a token cannot choose how it is checked. */
export function createTokenService(secret: string, policy: TokenPolicy = DEFAULT_TOKEN_POLICY): TokenService {
  // A KeyObject, not the string: jsonwebtoken first tries to parse a string as a PEM key, which
  // makes every verify many times dearer.
  const key: KeyObject = crypto.createSecretKey(Buffer.from(secret, 'utf8'));
  // Keyed by the SHA-256 of the whole token, signature included: a hit is the very token that
  // passed, and only what can change for it since (the clock passing `exp`) needs checking again.
  // The digest rather than the token: the cache holds no bearer credential to read out of a heap
  // dump, and a polling user costs 43 bytes of key instead of the token and the request header
  // it was sliced from, kept after that request ended.
  const remembered = new LRUCache<string, Principal>({ max: REMEMBERED_TOKENS });
  const keyOf = (token: string) => crypto.hash('sha256', token, 'base64url');
  // jsonwebtoken checks issuer and audience itself; an option left undefined would be refused by its sign().
  const bound = { ...(policy.issuer ? { issuer: policy.issuer } : {}), ...(policy.audience ? { audience: policy.audience } : {}) };
  // A signed `exp` far ahead (1e15) would pass jsonwebtoken and become an invalid Date here: bounded,
  // so every token ends within the policy's lifetime, counted from the earlier of `iat` and now.
  const Claims = TokenClaims.refine(
    (c) => c.exp <= Math.min(c.iat ?? Infinity, Math.floor(Date.now() / 1000)) + policy.maxLifetimeSeconds,
    'exp is too far ahead',
  );
  const verify = (token: string): Principal => {
    let decoded: unknown;
    try {
      decoded = jwt.verify(token, key, { algorithms: ['HS256'], ...bound });
    } catch (err) {
      if (err instanceof jwt.TokenExpiredError) throw new AppError('AUTH_EXPIRED', 'Token has expired');
      throw new AppError('AUTH_INVALID', 'Token is invalid');
    }
    const claims = Claims.safeParse(decoded);
    if (!claims.success) throw new AppError('AUTH_INVALID', 'Token claims are invalid');
    const { sub, role, exp, name, email } = claims.data;
    // Every request writes name and email to the users table, which cannot hold these: a 500 on
    // every call otherwise, however well signed the token.
    if ((name !== undefined && isUnstorable(name)) || (email !== undefined && isUnstorable(email))) {
      throw new AppError('AUTH_INVALID', 'Token claims are invalid');
    }
    return Object.freeze({ userId: sub, role, expiresAt: new Date(exp * 1000), name, email });
  };
  return {
    verify,
    verifyRemembered(token) {
      const key = keyOf(token);
      const known = remembered.get(key);
      // jsonwebtoken's own rule: expired once the clock reaches `exp` (whole seconds).
      if (known && Date.now() < known.expiresAt.getTime()) return known;
      if (known) remembered.delete(key);
      // Throws for anything wrong, so only a token that passed is remembered.
      const principal = verify(token);
      remembered.set(key, principal);
      return principal;
    },
    sign(claims, ttlSeconds) {
      if (ttlSeconds > policy.maxLifetimeSeconds) throw new Error(`a token may live at most ${policy.maxLifetimeSeconds} s (JWT_MAX_LIFETIME)`);
      return jwt.sign(claims, key, { algorithm: 'HS256', expiresIn: ttlSeconds, ...bound });
    },
  };
}
