import { Router } from 'express';
import { z } from 'zod';
import { authenticate, principalOf, type AuthDeps } from '../http/authenticate';
import { pollLimit } from '../http/rate-limits';
import { parseInput } from '../http/validate';
import { CLIENT_MODES } from './client-modes';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { ClientModeTracker } from './client-modes';

export const ModeReport = z.strictObject({
  // Chosen by the browser (one per browser and user, shared by its tabs); never trusted for identity.
  sessionId: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'must be 8-64 letters, digits, _ or -'),
  mode: z.enum(CLIENT_MODES),
  reason: z.string().max(200).default(''),
});

export interface ClientModeRoutesDeps extends AuthDeps {
  config: Pick<Config, 'POLL_RATE_LIMIT_PER_MIN'>;
  logger: Logger;
  clientModes: Pick<ClientModeTracker, 'report'>;
}

/**
 * POST /api/events/client-mode: a browser client says it is live, polling or (was) offline, and
 * why. 204. Counted per instance in GET /api/status `clientModes`; see client-modes.ts for expiry.
 */
export function clientModeRoutes(deps: ClientModeRoutesDeps): Router {
  const router = Router();
  // Reports come on changes and once a minute; the polling budget is far above that, and a client
  // stuck flapping between modes is slowed down rather than filling the log.
  router.post('/api/events/client-mode', authenticate(deps), pollLimit(deps.config.POLL_RATE_LIMIT_PER_MIN), (req, res) => {
    const body = parseInput(ModeReport, req.body);
    const principal = principalOf(req);
    const before = deps.clientModes.report(principal.userId, body.sessionId, body.mode);
    if (before !== body.mode) {
      deps.logger.debug(
        { userId: principal.userId, sessionId: body.sessionId, mode: body.mode, from: before ?? null, reason: body.reason },
        'client mode changed',
      );
    }
    res.status(204).end();
  });
  return router;
}
