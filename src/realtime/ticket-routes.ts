import { Router } from 'express';
import { authenticate, principalOf, type AuthDeps } from '../http/authenticate';
import { EmptyBody, parseInput } from '../http/validate';
import type { TicketStore } from '../auth/stream-tickets';

export interface TicketRoutesDeps extends AuthDeps {
  tickets: Pick<TicketStore, 'mint'>;
}

/**
 * POST /api/events/tickets: trade a Bearer token for a single-use stream ticket. No
 * Idempotency-Key: a stored answer would keep the ticket in the clear, and a lost answer is
 * simply asked again (a ticket is cheap and expires).
 */
export function ticketRoutes(deps: TicketRoutesDeps): Router {
  const router = Router();
  router.post('/api/events/tickets', authenticate(deps), async (req, res) => {
    parseInput(EmptyBody, req.body ?? {});
    const minted = await deps.tickets.mint(principalOf(req));
    res.status(201).set('Cache-Control', 'no-store').json(minted);
  });
  return router;
}
