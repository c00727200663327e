import jwt from 'jsonwebtoken';
import { createTokenService } from '../../src/auth/jwt';
import { AppError } from '../../src/errors/app-error';

const SECRET = 'unit-test-secret-0123456789abcdef';
const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return err instanceof AppError ? err.code : `not an AppError: ${String(err)}`;
  }
  return undefined;
}

describe('token service: remembered verification', () => {
  beforeEach(() => jest.useFakeTimers({ now: T0 }));
  afterEach(() => jest.useRealTimers());

  it('answers a remembered token as a full check does, from memory the second time', () => {
    const tokens = createTokenService(SECRET);
    const token = tokens.sign({ sub: 'u1', role: 'client', name: 'Thandi' }, 3600);
    const first = tokens.verifyRemembered(token);
    expect(first).toEqual(tokens.verify(token));
    expect(first).toMatchObject({ userId: 'u1', role: 'client', name: 'Thandi', expiresAt: new Date(T0 + 3600_000) });
    expect(tokens.verifyRemembered(token)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
  });

  it('expires a remembered token at the same instant as a full check (the clock reaching exp)', () => {
    const tokens = createTokenService(SECRET);
    const token = tokens.sign({ sub: 'u1', role: 'client' }, 60);
    tokens.verifyRemembered(token);
    jest.setSystemTime(T0 + 60_000 - 1);
    expect(codeOf(() => tokens.verifyRemembered(token))).toBeUndefined();
    expect(codeOf(() => tokens.verify(token))).toBeUndefined();
    jest.setSystemTime(T0 + 60_000);
    expect(codeOf(() => tokens.verifyRemembered(token))).toBe('AUTH_EXPIRED');
    expect(codeOf(() => tokens.verify(token))).toBe('AUTH_EXPIRED');
    // And it stays refused: the expired entry is not served again.
    expect(codeOf(() => tokens.verifyRemembered(token))).toBe('AUTH_EXPIRED');
  });

  it('refuses a token that differs from a remembered one only in its signature or claims', () => {
    const tokens = createTokenService(SECRET);
    const token = tokens.sign({ sub: 'u1', role: 'client' }, 3600);
    tokens.verifyRemembered(token);
    const [header, payload, signature] = token.split('.');
    const flipped = signature.slice(0, -2) + (signature.at(-2) === 'A' ? 'B' : 'A') + signature.at(-1);
    expect(codeOf(() => tokens.verifyRemembered(`${header}.${payload}.${flipped}`))).toBe('AUTH_INVALID');
    const asAdmin = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), role: 'admin' })).toString('base64url');
    expect(codeOf(() => tokens.verifyRemembered(`${header}.${asAdmin}.${signature}`))).toBe('AUTH_INVALID');
  });

  it('never remembers a token that failed, and does not share memory between secrets', () => {
    const tokens = createTokenService(SECRET);
    const other = createTokenService('another-secret-0123456789abcdefgh');
    const token = tokens.sign({ sub: 'u1', role: 'client' }, 3600);
    expect(codeOf(() => other.verifyRemembered(token))).toBe('AUTH_INVALID');
    expect(codeOf(() => other.verifyRemembered(token))).toBe('AUTH_INVALID');
    tokens.verifyRemembered(token);
    expect(codeOf(() => other.verifyRemembered(token))).toBe('AUTH_INVALID');
    const noRole = jwt.sign({ sub: 'u2' }, SECRET, { algorithm: 'HS256', expiresIn: 3600 });
    expect(codeOf(() => tokens.verifyRemembered(noRole))).toBe('AUTH_INVALID');
    expect(codeOf(() => tokens.verifyRemembered(noRole))).toBe('AUTH_INVALID');
  });
});

describe('token service: issuer, audience and lifetime', () => {
  beforeEach(() => jest.useFakeTimers({ now: T0 }));
  afterEach(() => jest.useRealTimers());
  const now = Math.floor(T0 / 1000);
  const raw = (claims: object) => jwt.sign(claims, SECRET, { algorithm: 'HS256' });

  it('bounds exp by JWT_MAX_LIFETIME from iat, or from now without one: AUTH_INVALID past it, never an invalid date', () => {
    const tokens = createTokenService(SECRET, { maxLifetimeSeconds: 3600 });
    expect(codeOf(() => tokens.verify(raw({ sub: 'u', role: 'client', exp: 1e15 })))).toBe('AUTH_INVALID');
    expect(codeOf(() => tokens.verify(raw({ sub: 'u', role: 'client', exp: now + 3601 })))).toBe('AUTH_INVALID');
    expect(codeOf(() => tokens.verify(raw({ sub: 'u', role: 'client', iat: now - 10, exp: now + 3595 })))).toBe('AUTH_INVALID');
    // An iat in the future buys nothing: the bound counts from the earlier of iat and now.
    expect(codeOf(() => tokens.verify(raw({ sub: 'u', role: 'client', iat: now + 86_400, exp: now + 86_400 + 60 })))).toBe('AUTH_INVALID');
    expect(codeOf(() => tokens.verify(raw({ sub: 'u', role: 'client', iat: now, exp: now + 3600 })))).toBeUndefined();
    expect(codeOf(() => tokens.verify(raw({ sub: 'u', role: 'client', exp: now + 3600 })))).toBeUndefined();
    expect(() => tokens.sign({ sub: 'u', role: 'client' }, 3601)).toThrow(/JWT_MAX_LIFETIME/);
  });

  it('checks iss and aud when configured, with jsonwebtoken, and signs its own tokens with both', () => {
    const tokens = createTokenService(SECRET, { issuer: 'https://id.example', audience: 'api', maxLifetimeSeconds: 86_400 });
    const claims = { sub: 'u', role: 'client', exp: now + 60 };
    expect(codeOf(() => tokens.verify(raw(claims)))).toBe('AUTH_INVALID');
    expect(codeOf(() => tokens.verify(raw({ ...claims, iss: 'https://id.example', aud: 'other' })))).toBe('AUTH_INVALID');
    expect(codeOf(() => tokens.verify(raw({ ...claims, iss: 'https://other.example', aud: 'api' })))).toBe('AUTH_INVALID');
    expect(codeOf(() => tokens.verify(raw({ ...claims, iss: 'https://id.example', aud: ['x', 'api'] })))).toBeUndefined();
    expect(jwt.decode(tokens.sign({ sub: 'u', role: 'client' }, 60))).toEqual(expect.objectContaining({ iss: 'https://id.example', aud: 'api' }));
    // Expired stays AUTH_EXPIRED, so a client knows to refresh.
    expect(codeOf(() => tokens.verify(raw({ ...claims, iss: 'https://id.example', aud: 'api', exp: now - 1 })))).toBe('AUTH_EXPIRED');
  });
});
