import { Router } from 'express';
import type { Config } from '../config';

export interface SettingsRoutesDeps {
  config: Pick<Config, 'MARKETPLACE_TIME_ZONE'>;
}

/**
 * GET /api/settings: what every page needs to say things the way the server does, before anyone
 * signs in. The time zone: a browser elsewhere shows the marketplace's times, not its own.
 */
export function settingsRoutes(deps: SettingsRoutesDeps): Router {
  const router = Router();
  const body = { timeZone: deps.config.MARKETPLACE_TIME_ZONE };
  router.get('/api/settings', (_req, res) => {
    res.set('Cache-Control', 'no-cache').json(body);
  });
  return router;
}
