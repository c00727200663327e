import { rateLimit, ipKeyGenerator } from 'express-rate-limit';
import type { ErrorRequestHandler, NextFunction, RequestHandler } from 'express';
import { AppError } from './app-error';

const refuse: RequestHandler = (_req, _res, next) => next(new AppError('RATE_LIMITED', 'Too many requests; slow down'));

/**
 * Failed authentication per client address. It sits on the error path and sees only 401s, so
 * successful requests and long-lived streams never count; past the limit, a failure is answered
 * 429 instead of 401 (guessing tokens or tickets gets slower, nobody else is affected).
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
    if (!(err instanceof AppError) || err.status !== 401) return next(err);
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
