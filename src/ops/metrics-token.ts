import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AppError } from '../errors/app-error';
import { bearerToken } from '../http/authenticate';

const digest = (s: string) => crypto.createHash('sha256').update(s).digest();

/**
 * The check for /metrics and /api/status?detail=1: with METRICS_TOKEN set, its value as a Bearer;
 * unset, open. Compared as SHA-256 digests in constant time, so the answer's timing says nothing
 * about how much of a guess was right. A wrong one is AUTH_INVALID, which the failed-auth limit counts.
 */
export function metricsGuard(metricsToken: string | undefined): (req: Pick<IncomingMessage, 'headers'>) => void {
  if (metricsToken === undefined) return () => {};
  const want = digest(metricsToken);
  return (req) => {
    const got = bearerToken(req);
    if (got === undefined) throw new AppError('AUTH_REQUIRED', 'This needs METRICS_TOKEN as a Bearer token');
    if (!crypto.timingSafeEqual(digest(got), want)) throw new AppError('AUTH_INVALID', 'Wrong metrics token');
  };
}
