import { Router } from 'express';
import { authenticate, principalOf, type AuthDeps } from '../http/authenticate';
import type { Database } from '../storage/db';
import type { Inbox } from '../notifications/inbox';
import { readSyncState } from './sync-service';

export interface SyncRoutesDeps extends AuthDeps {
  db: Pick<Database, 'knex'>;
  inbox: Inbox;
}

/** GET /api/sync: what a client loads on start and after a `reset`, then polls or streams from `cursor`. */
export function syncRoutes(deps: SyncRoutesDeps): Router {
  const router = Router();
  router.get('/api/sync', authenticate(deps), async (req, res) => {
    res.set('Cache-Control', 'no-store').json(await readSyncState(deps.db.knex, deps.inbox, principalOf(req)));
  });
  return router;
}
