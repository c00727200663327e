import { Router } from 'express';
import { authenticate, principalOf, type AuthDeps } from '../http/authenticate';
import { AppError } from '../errors/app-error';
import { idempotent } from '../http/idempotency';
import { pathId } from '../http/ids';
import { parseInput } from '../http/validate';
import type { Database } from '../storage/db';
import type { AttentionQueue } from './attention';
import { AdminAction, AdminActionRequest, type EscrowAdmin } from './escrow-admin';

/** What the operators' routes need, and nothing more. */
export interface AttentionRouteDeps extends AuthDeps {
  db: Pick<Database, 'knex'>;
  attention: AttentionQueue;
  escrowAdmin: EscrowAdmin;
}

/**
 * The operators' queue and their decisions (admins only):
 *   GET  /api/ops/attention                 {items: [{kind, id, bookingId, reason, amount, currency, since}]}
 *   POST /api/ops/bookings/:id/:action      {reason}; action: accept-flagged | refund | release | retry-refund
 */
export function attentionRoutes(deps: AttentionRouteDeps): Router {
  const router = Router();
  const auth = authenticate(deps);
  const adminOnly = (role: string) => {
    if (role !== 'admin') throw new AppError('FORBIDDEN', 'Only admins can see and act on the attention queue');
  };

  router.get('/api/ops/attention', auth, async (req, res) => {
    adminOnly(principalOf(req).role);
    res.set('Cache-Control', 'no-store').json({ items: await deps.attention.list() });
  });

  router.post(
    '/api/ops/bookings/:id/:action',
    auth,
    (req, _res, next) => next(AdminAction.safeParse(req.params.action).success ? undefined : 'route'),
    idempotent(deps.db.knex),
    async (req, res) => {
      const p = principalOf(req);
      adminOnly(p.role);
      const id = pathId(req.params.id, 'Booking');
      const body = parseInput(AdminActionRequest, req.body ?? {});
      res.json(await deps.escrowAdmin.act(p, id, AdminAction.parse(req.params.action), body));
    },
  );
  return router;
}
