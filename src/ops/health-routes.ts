import { Router } from 'express';
import { AppError } from '../errors/app-error';
import type { Config } from '../config';
import type { Database } from '../storage/db';
import type { Telemetry } from '../metrics/telemetry';
import type { Lifecycle } from '../http/lifecycle';
import { metricsGuard } from './metrics-token';
import { pingDatabase } from './health-repository';

export interface HealthRoutesDeps {
  config: Pick<Config, 'METRICS_TOKEN'>;
  db: Pick<Database, 'knex' | 'isMigrated'>;
  telemetry: Pick<Telemetry, 'registry'>;
  lifecycle: Pick<Lifecycle, 'draining'>;
}

/** /healthz: the process answers. /readyz: the database answers and is migrated. /metrics: Prometheus (METRICS_TOKEN when set). */
export function healthRoutes(deps: HealthRoutesDeps): Router {
  const router = Router();
  let migrated = false;

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
    if (deps.lifecycle.draining) throw new AppError('SHUTTING_DOWN', 'Server is shutting down');
    try {
      await pingDatabase(deps.db.knex);
      // Once migrated, always migrated for this process; skip re-reading the migrations folder.
      migrated ||= await deps.db.isMigrated();
    } catch (err) {
      throw new AppError('DATABASE_UNAVAILABLE', 'Database is not reachable', undefined, { cause: err });
    }
    if (!migrated) throw new AppError('DATABASE_UNAVAILABLE', 'Database is not migrated');
    res.json({ status: 'ready' });
  });

  const guard = metricsGuard(deps.config.METRICS_TOKEN);
  router.get('/metrics', async (req, res) => {
    guard(req);
    res.set('Content-Type', deps.telemetry.registry.contentType).send(await deps.telemetry.registry.metrics());
  });

  return router;
}
