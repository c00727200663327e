import { rateLimit, ipKeyGenerator } from 'express-rate-limit';
import type { ErrorRequestHandler, NextFunction, RequestHandler } from 'express';
import { AppError, type ErrorCode } from '../errors/app-error';

const refuse: RequestHandler = (_req, _res, next) => next(new AppError('RATE_LIMITED', 'Too many requests; slow down'));

/**
 * What counts as guessing: a token or ticket that is not ours, a webhook signature that is wrong.
 * Not AUTH_EXPIRED (an honest client whose token ran out, which must see that code to refresh) nor
 * AUTH_REQUIRED (nothing was tried): counting those locked out everyone behind one address.
 */
const GUESSES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['AUTH_INVALID', 'WEBHOOK_SIGNATURE_INVALID']);

/**
 * Failed authentication per client address (req.ip, which Express derives from TRUST_PROXY). It
 * sits on the error path and sees only guesses, so successful requests and long-lived streams
 * never count; past the limit, a guess is answered 429 instead of 401 (guessing tokens or tickets
 * gets slower, nobody else is affected).
 */
export function authFailureLimit(perFiveMinutes: number): ErrorRequestHandler {
  const limiter = rateLimit({
    windowMs: 5 * 60_000,
    limit: perFiveMinutes,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (_req, _res, next) => next(new AppError('RATE_LIMITED', 'Too many failed authentications; slow down')),
  });
  return (err, req, res, next) => {
    if (!(err instanceof AppError) || !GUESSES.has(err.code)) return next(err);
    const passOn: NextFunction = (replacement?: unknown) => next(replacement ?? err);
    void limiter(req, res, passOn);
  };
}

/** Polling per user (after authentication), so one phone cannot poll in a tight loop. */
export function pollLimit(perMinute: number): RequestHandler {
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (req) => req.principal?.userId ?? ipKeyGenerator(req.ip ?? ''),
    handler: refuse,
  });
}

const WRITES: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Writes per user per minute (after authentication), so one client cannot flood a provider with
 * bookings or the tables with rows. Admins are exempt: operators' tools and load tests publish in
 * bulk. Each instance counts its own window (the memory store); the database-side caps (pending
 * bookings per pair, unexpired tickets per user) are shared. Null when turned off (0).
 */
export function writeLimit(perMinute: number): RequestHandler | null {
  if (perMinute === 0) return null;
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    skip: (req) => !WRITES.has(req.method) || !req.principal || req.principal.role === 'admin',
    keyGenerator: (req) => `user:${req.principal!.userId}`,
    handler: refuse,
  });
}
