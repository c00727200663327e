import { rateLimit, ipKeyGenerator } from 'express-rate-limit';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import { AppError, type ErrorCode } from '../errors/app-error';
import { clientAddress, type TrustProxy } from './client-address';

const refuse: RequestHandler = (_req, _res, next) => next(new AppError('RATE_LIMITED', 'Too many requests; slow down'));

/**
 * What counts as guessing: a token or ticket that is not ours, a webhook signature that is wrong.
 * Not AUTH_EXPIRED (an honest client whose token ran out, which must see that code to refresh) nor
 * AUTH_REQUIRED (nothing was tried): counting those locked out everyone behind one address.
 */
const GUESSES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['AUTH_INVALID', 'WEBHOOK_SIGNATURE_INVALID']);

/**
 * Failed authentication per client address (as TRUST_PROXY derives it). It sits on the error path
 * and sees only guesses, so successful requests and long-lived streams never count; past the
 * limit, a guess is answered 429 instead of 401 (guessing tokens or tickets gets slower, nobody
 * else is affected). Given the error about to be answered, it resolves to the one to answer.
 */
export type GuessLimit = (req: IncomingMessage, res: ServerResponse, err: AppError) => Promise<AppError>;

export function guessLimit(perFiveMinutes: number, trust: TrustProxy): GuessLimit {
  const limiter = rateLimit({
    windowMs: 5 * 60_000,
    limit: perFiveMinutes,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (req) => ipKeyGenerator(clientAddress(req, trust)),
    handler: refuse,
  });
  return async (req, res, err) => {
    if (!GUESSES.has(err.code)) return err;
    const pairs: string[] = [];
    try {
      await limitOutsideExpress(limiter, req, pairs);
    } catch (refused) {
      if (!(refused instanceof AppError)) throw refused;
      err = new AppError('RATE_LIMITED', 'Too many failed authentications; slow down');
    }
    setPairs(res, pairs);
    return err;
  };
}

/**
 * Runs an express-rate-limit middleware on node:http's request, Express's or not. Of the response
 * it uses what this view gives (our handlers answer nothing themselves): the headers it would set
 * (draft-8's, or Retry-After) go to `pairs` as name/value pairs, for the answer or the failure to
 * carry. Rejects with what the limiter's handler passed on (RATE_LIMITED) when over the limit.
 */
export function limitOutsideExpress(limiter: RequestHandler, req: IncomingMessage, pairs: string[]): Promise<void> {
  const view = {
    headersSent: false,
    setHeader: (name: string, value: string) => pairs.push(name, String(value)),
    append: (name: string, value: string) => pairs.push(name, String(value)),
  };
  return new Promise((resolve, reject) => {
    void limiter(req as Request, view as unknown as Response, (err?: unknown) => {
      // Its count for the request, which nothing here reads: a held poll need not keep it.
      (req as { rateLimit?: unknown }).rateLimit = undefined;
      if (err === undefined) resolve();
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the limiter's error, passed on as it came
      else reject(err);
    });
  });
}

/** Sets name/value pairs; a name given twice is sent twice, as Express's `append` would. */
export function setPairs(res: ServerResponse, pairs: readonly string[]): void {
  if (res.headersSent) return;
  for (let i = 0; i < pairs.length; i += 2) res.appendHeader(pairs[i], pairs[i + 1]);
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
