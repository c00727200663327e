import jwt from 'jsonwebtoken';
import { createTokenService } from '../../src/auth/jwt';
import { AppError } from '../../src/http/app-error';

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
