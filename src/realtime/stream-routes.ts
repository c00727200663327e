import { Router } from 'express';
import { openStream } from './stream-open';
import { STREAM_PATH } from './stream-endpoint';
import { takeHandedOver } from '../http/handed-over';
import type { AppDeps } from '../app-deps';

/**
 * GET /api/events/stream inside Express. The server normally serves streams before Express
 * (stream-endpoint.ts) and only hands over the ones that failed, to be answered here; a request
 * that reaches Express another way (the app mounted elsewhere, a path variant) is served in full.
 */
export function streamRoutes(deps: AppDeps): Router {
  const router = Router();
  router.get(STREAM_PATH, async (req, res) => {
    const err = takeHandedOver(req);
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- what the endpoint caught, rethrown as it was for the error handler
    if (err !== undefined) throw err;
    await openStream(deps, req, res, req.query);
  });
  return router;
}
