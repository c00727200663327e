import { Router } from 'express';
import { takeHandedOver } from '../http/handed-over';
import type { AppDeps } from '../app-deps';
import { POLL_PATH, pollerOf } from './poll';

/**
 * GET /api/events inside Express. The server normally answers polls before Express
 * (poll-endpoint.ts) and only hands over the ones that failed, to be answered here; a request that
 * reaches Express another way (the app mounted elsewhere, a path variant, a body) is served in full.
 * Express's middleware has set the answer's headers, logs it and counts it.
 */
export function pollRoutes(deps: AppDeps): Router {
  const router = Router();
  router.get(POLL_PATH, async (req, res) => {
    const err = takeHandedOver(req);
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrown as it was caught before Express
    if (err !== undefined) throw err;
    await new Promise<void>((resolve, reject) => {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what the poll failed with, passed on as it came
      void pollerOf(deps).serve(req, res, req.query, { decorate: () => undefined, finished: () => resolve(), failed: (_q, _s, e) => reject(e) }, performance.now());
    });
  });
  return router;
}
