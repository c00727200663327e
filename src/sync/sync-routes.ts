import { Router } from 'express';
import { authenticate, principalOf } from '../http/authenticate';
import type { AppDeps } from '../app-deps';
import { readSyncState } from './sync-service';

/** GET /api/sync: what a client loads on start and after a `reset`, then polls or streams from `cursor`. */
export function syncRoutes(deps: AppDeps): Router {
  const router = Router();
  router.get('/api/sync', authenticate(deps), async (req, res) => {
    res.set('Cache-Control', 'no-store').json(await readSyncState(deps.db.knex, deps.notifications, principalOf(req)));
  });
  return router;
}
