import { Router } from 'express';
import { authenticate, principalOf, type AuthDeps } from '../http/authenticate';
import { parseInput } from '../http/validate';
import { idempotent } from '../http/idempotency';
import { BroadcastRequest } from './broadcast-schemas';
import { assertCanBroadcast, sendBroadcast } from './broadcast-service';
import type { Database } from '../storage/db';
import type { EventPublisher } from '../events/event-publisher';

export interface BroadcastRoutesDeps extends AuthDeps {
  db: Pick<Database, 'knex'>;
  publisher: EventPublisher;
}

export function broadcastRoutes(deps: BroadcastRoutesDeps): Router {
  const router = Router();
  router.post('/api/broadcasts', authenticate(deps), idempotent(deps.db.knex), async (req, res) => {
    const principal = principalOf(req);
    // Before validation, so a non-admin learns nothing about the body's shape.
    assertCanBroadcast(principal);
    const body = parseInput(BroadcastRequest, req.body);
    res.status(202).json(await sendBroadcast(deps.publisher, principal, body));
  });
  return router;
}
