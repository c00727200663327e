import { Router } from 'express';
import { z } from 'zod';
import type { Profile } from '../contract/views';
import { authenticate, principalOf, type AuthDeps } from '../http/authenticate';
import { parseInput } from '../http/validate';
import { AppError } from '../errors/app-error';
import { pageOf } from '../storage/paging';
import { UserId } from '../contract/vocabulary';
import { findUser, listProviders, setServices, type UserRow } from './user-repository';
import type { Database } from '../storage/db';
import type { Principal } from '../auth/principal';

export const ProvidersQuery = z.strictObject({
  service: z.string().trim().min(1).max(100).optional(),
  cursor: UserId.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

export const ServicesRequest = z.strictObject({ services: z.array(z.string().trim().min(1).max(100)).max(50) });

export interface UserRoutesDeps extends AuthDeps {
  db: Pick<Database, 'knex'>;
  /** The inbox's count, which notifications/ owns (above this layer). */
  inbox: { unreadCount(caller: Principal): Promise<number> };
}

/** The caller's profile as GET /api/me (and GET /api/sync) show it. */
export function profile(u: UserRow): Profile {
  return {
    id: u.id,
    role: u.role,
    name: u.name,
    email: u.email,
    services: u.services,
    // Only providers are paid out; nobody else's profile speaks of payouts.
    ...(u.role === 'provider'
      ? {
          payoutAccount: u.payout_recipient_code
            ? { status: 'active', accountName: u.payout_account_name, bankCode: u.payout_bank_code, accountNumberLast4: u.payout_account_last4 }
            : { status: 'missing' },
        }
      : {}),
  };
}

export function userRoutes(deps: UserRoutesDeps): Router {
  const router = Router();
  const auth = authenticate(deps);
  const db = deps.db.knex;

  router.get('/api/me', auth, async (req, res) => {
    const p = principalOf(req);
    res.json({ ...profile((await findUser(db, p.userId))!), unreadCount: await deps.inbox.unreadCount(p) });
  });

  router.put('/api/me/services', auth, async (req, res) => {
    const p = principalOf(req);
    if (p.role !== 'provider') throw new AppError('FORBIDDEN', 'Only providers offer services');
    const { services } = parseInput(ServicesRequest, req.body);
    await setServices(db, p.userId, [...new Set(services)]);
    res.json(profile((await findUser(db, p.userId))!));
  });

  router.get('/api/providers', auth, async (req, res) => {
    const q = parseInput(ProvidersQuery, req.query);
    const rows = await listProviders(db, { service: q.service, after: q.cursor, limit: q.limit + 1 });
    const { items, nextCursor } = pageOf(rows, q.limit);
    res.json({ providers: items.map((u) => ({ id: u.id, name: u.name, services: u.services })), nextCursor });
  });

  return router;
}
