import { Router } from 'express';
import { authenticate, principalOf, type AuthDeps } from '../http/authenticate';
import { AppError } from '../errors/app-error';
import { parseInput } from '../http/validate';
import type { Config } from '../config';
import type { Database } from '../storage/db';
import { ledgerSummary } from './ledger';
import { listPayments, listPayouts, ListPaymentsQuery, ListPayoutsQuery } from './money-lists';

export interface MoneyRoutesDeps extends AuthDeps {
  config: Pick<Config, 'PLATFORM_FEE_BPS'>;
  db: Pick<Database, 'knex'>;
}

/**
 * Read-only money routes:
 *   GET /api/ledger/summary   admin: sums per currency and consistency checks (src/payments/ledger.ts)
 *   GET /api/payments         a client's own, a provider's bookings', or (admin) all
 *   GET /api/payouts          a provider's own, or (admin) all; a client has none (403)
 * Lists page by id, newest first: `?cursor=<nextCursor>&limit=1..100&status=`.
 */
export function moneyRoutes(deps: MoneyRoutesDeps): Router {
  const router = Router();
  const auth = authenticate(deps);
  const db = deps.db.knex;

  router.get('/api/ledger/summary', auth, async (req, res) => {
    if (principalOf(req).role !== 'admin') throw new AppError('FORBIDDEN', 'Only admins can read the ledger');
    res.set('Cache-Control', 'no-store').json(await ledgerSummary(db, deps.config.PLATFORM_FEE_BPS));
  });

  router.get('/api/payments', auth, async (req, res) => {
    const p = principalOf(req);
    const q = parseInput(ListPaymentsQuery, req.query);
    const who = p.role === 'admin' ? {} : p.role === 'provider' ? { providerId: p.userId } : { clientId: p.userId };
    res.set('Cache-Control', 'no-store').json(await listPayments(db, { ...q, ...who }));
  });

  router.get('/api/payouts', auth, async (req, res) => {
    const p = principalOf(req);
    if (p.role === 'client') throw new AppError('FORBIDDEN', 'Payouts are for providers');
    const q = parseInput(ListPayoutsQuery, req.query);
    res.set('Cache-Control', 'no-store').json(await listPayouts(db, { ...q, ...(p.role === 'admin' ? {} : { providerId: p.userId }) }));
  });

  return router;
}
