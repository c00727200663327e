import crypto from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import { authenticate, principalOf, type AuthDeps } from '../http/authenticate';
import { parseInput } from '../http/validate';
import { AppError } from '../errors/app-error';
import type { Config } from '../config';
import type { Database } from '../storage/db';
import { pushEndpointProblem } from './push-endpoint';
import { deletePushSubscription, savePushSubscription } from './push-repository';

const base64url = (bytes: number, what: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]+=*$/, 'base64url')
    .max(200)
    .refine((s) => Buffer.from(s, 'base64url').length === bytes, `${what}: ${bytes} bytes`);

export interface PushRoutesDeps extends AuthDeps {
  config: Pick<Config, 'vapid' | 'PUSH_ALLOWED_TEST_HOSTS'>;
  db: Pick<Database, 'knex'>;
}

/** The browser's PushSubscription, as `JSON.stringify(subscription)` gives it. */
export const PushSubscriptionInput = z.strictObject({
  endpoint: z.string().max(2048),
  expirationTime: z.number().nullable().optional(),
  keys: z.strictObject({
    p256dh: base64url(65, 'an uncompressed P-256 point').refine((k) => {
      try {
        crypto.ECDH.convertKey(Buffer.from(k, 'base64url'), 'prime256v1');
        return true;
      } catch {
        return false;
      }
    }, 'not a point on P-256'),
    auth: base64url(16, 'the auth secret'),
  }),
});

export const Unsubscribe = z.strictObject({ endpoint: z.string().max(2048) });

export function pushRoutes(deps: PushRoutesDeps): Router {
  const router = Router();
  const auth = authenticate(deps);

  // The key a page subscribes with; 404 PUSH_DISABLED when this server has none.
  router.get('/api/push/vapid-public-key', (_req, res) => {
    if (!deps.config.vapid) throw new AppError('NOT_FOUND', 'Push is not configured on this server');
    res.set('Cache-Control', 'no-store').json({ publicKey: deps.config.vapid.publicKey });
  });

  router.post('/api/me/push-subscriptions', auth, async (req, res) => {
    const body = parseInput(PushSubscriptionInput, req.body);
    const problem = await pushEndpointProblem(body.endpoint, deps.config.PUSH_ALLOWED_TEST_HOSTS);
    if (problem) throw new AppError('VALIDATION_FAILED', 'Request is invalid', [{ path: 'endpoint', code: 'custom', message: problem }]);
    const id = await savePushSubscription(deps.db.knex, principalOf(req).userId, { endpoint: body.endpoint, ...body.keys });
    res.status(201).json({ id });
  });

  router.delete('/api/me/push-subscriptions', auth, async (req, res) => {
    const body = parseInput(Unsubscribe, req.body);
    if (!(await deletePushSubscription(deps.db.knex, principalOf(req).userId, body.endpoint))) throw new AppError('NOT_FOUND', 'No such push subscription');
    res.status(204).end();
  });

  return router;
}
