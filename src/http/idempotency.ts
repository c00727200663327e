import crypto from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Knex } from 'knex';
import { AppError } from '../errors/app-error';
import { claimKey, deleteKeysCreatedBefore, findKey, forgetKey, releaseKey, storeAnswer } from './idempotency-repository';

const KEY = /^[\x21-\x7e]{1,255}$/;
const TTL_MS = 24 * 3_600_000;

/**
 * `Idempotency-Key` on a POST: the same key from the same user within 24 h gets the first answer
 * again and does nothing; the same key with another request is a 422. Put it after authentication.
 *
 * The stored answer is written after the handler, not in its transaction: a crash between the two
 * leaves the key "in progress" (409) until it expires, which is safe (never a second effect). A
 * 5xx releases the key (retried in the background while the database is away).
 */
export function idempotent(knex: Knex, now: () => number = Date.now): RequestHandler {
  return async (req, res, next) => {
    const key = req.get('Idempotency-Key');
    if (key === undefined) return next();
    if (!KEY.test(key)) throw new AppError('VALIDATION_FAILED', 'Idempotency-Key must be 1-255 visible ASCII characters');
    const userId = req.principal!.userId;
    const hash = crypto
      .createHash('sha256')
      .update(`${req.method} ${req.baseUrl}${req.path}\n${JSON.stringify(req.body ?? null)}`)
      .digest('hex');

    if (!(await claimKey(knex, userId, key, hash))) {
      const prior = await findKey(knex, userId, key);
      if (prior && now() - new Date(prior.created_at).getTime() > TTL_MS) {
        // Expired: forget it and treat this as a first request.
        await forgetKey(knex, userId, key, prior.request_hash);
        return idempotent(knex, now)(req, res, next);
      }
      if (!prior || prior.request_hash !== hash) {
        throw new AppError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used for a different request');
      }
      if (prior.status === null) throw new AppError('IDEMPOTENCY_KEY_IN_USE', 'A request with this Idempotency-Key is still in progress');
      res.set('Idempotent-Replayed', 'true').status(prior.status).json(prior.body);
      return;
    }

    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      const status = res.statusCode;
      if (status >= 500) {
        // A server-side failure did nothing reliable: let the retry run again. Often the failure
        // is the database itself, so the release is retried until it is back; otherwise the key
        // would answer IDEMPOTENCY_KEY_IN_USE for a day.
        const release = () => releaseKey(knex, userId, key, hash);
        release().then(
          () => json(body),
          (err: unknown) => {
            req.log?.warn({ code: 'IDEMPOTENCY_RELEASE_RETRY', err }, 'could not release an Idempotency-Key; will retry');
            json(body);
            retryRelease(release);
          },
        );
        return res;
      }
      storeAnswer(knex, userId, key, status, body).then(
        () => json(body),
        (err: unknown) => {
          req.log?.error({ code: 'IDEMPOTENCY_SAVE_FAILED', err }, 'could not store an idempotent answer');
          json(body);
        },
      );
      return res;
    };
    next();
  };
}

const RELEASE_RETRY_MS = [250, 1_000, 2_000, 5_000, 10_000, 30_000];
const RELEASE_GIVE_UP_MS = 15 * 60_000;

/** Retries `release` with backoff until it succeeds, for up to 15 minutes. */
function retryRelease(release: () => Promise<unknown>, started = Date.now(), attempt = 0): void {
  if (Date.now() - started > RELEASE_GIVE_UP_MS) return;
  const delay = RELEASE_RETRY_MS[Math.min(attempt, RELEASE_RETRY_MS.length - 1)];
  setTimeout(() => void release().catch(() => retryRelease(release, started, attempt + 1)), delay).unref();
}

export async function pruneIdempotencyKeys(knex: Knex, now = Date.now()): Promise<number> {
  return deleteKeysCreatedBefore(knex, new Date(now - TTL_MS));
}
