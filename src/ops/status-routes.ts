import { Router } from 'express';
import type { Config } from '../config';
import type { Database } from '../storage/db';
import type { Telemetry } from '../metrics/telemetry';
import type { Lifecycle } from '../http/lifecycle';
import type { OutboxRelay } from '../events/outbox-relay';
import type { ChannelRegistry } from '../realtime/channel-registry';
import type { HeldPolls } from '../realtime/held-polls';
import type { ClientModeTracker } from '../realtime/client-modes';
import type { WebhookService } from '../payments/webhook-service';
import type { StatusFigures } from './status-figures';
import { metricsGuard } from './metrics-token';
import { sendStatus } from './status-format';

export interface StatusRoutesDeps {
  config: Pick<Config, 'METRICS_TOKEN' | 'INSTANCE_ID' | 'EVENT_RETENTION_HOURS'>;
  db: Pick<Database, 'kind'>;
  telemetry: Telemetry;
  lifecycle: Lifecycle;
  /** The database's state and the log's bounds, refreshed in the background. */
  statusFigures: StatusFigures;
  relay: Pick<OutboxRelay, 'dispatchedId'>;
  registry: Pick<ChannelRegistry, 'counts'>;
  heldPolls: Pick<HeldPolls, 'counts'>;
  clientModes: Pick<ClientModeTracker, 'counts'>;
  webhooks: Pick<WebhookService, 'settling'>;
}

/**
 * GET /api/status: for operators with curl, no token. Counts only, never user ids or personal
 * data, and no process id. Every figure is in memory: the database's state and the log's bounds
 * come from a check in the background (status-figures.ts), so a call costs no query. `?detail=1` adds
 * the process's own figures and needs METRICS_TOKEN when that is set.
 */
export function statusRoutes(deps: StatusRoutesDeps): Router {
  const router = Router();
  const guard = metricsGuard(deps.config.METRICS_TOKEN);
  router.get('/api/status', async (req, res) => {
    const detail = req.query.detail === '1';
    if (detail) guard(req);
    const { telemetry: t, lifecycle, statusFigures: figures } = deps;
    const { database: db, log } = figures.current();
    const database = { ...db, kind: deps.db.kind };
    const streams = deps.registry.counts();
    res.set('Cache-Control', 'no-store');
    sendStatus(req, res, {
      status: lifecycle.draining ? 'draining' : database.reachable ? 'ok' : 'degraded',
      version: lifecycle.version,
      instanceId: deps.config.INSTANCE_ID,
      uptimeSeconds: Math.round((Date.now() - lifecycle.startedAt.getTime()) / 1000),
      database,
      streams: { open: streams.total, byRole: streams.byRole, connectedUsers: streams.users },
      longPolls: deps.heldPolls.counts(),
      events: {
        lastEventId: figures.lastEventId(deps.relay.dispatchedId),
        oldestReplayableAfter: log.oldestReplayableAfter,
        dispatchedThrough: deps.relay.dispatchedId,
        retentionHours: deps.config.EVENT_RETENTION_HOURS,
        published: await t.counterValue(t.eventsPublished),
        delivered: await t.counterValue(t.eventsDelivered, { path: 'live' }),
        replayed: await t.counterValue(t.eventsDelivered, { path: 'replay' }),
      },
      fanoutLag: await t.lagPercentiles(),
      slowConsumersDropped: await t.counterValue(t.slowConsumersDropped),
      pollingRequests: await t.counterValue(t.pollRequests),
      clientModes: deps.clientModes.counts(),
      // Webhooks settle after their answer: deliveries recorded, swept up, contradicted by Paystack,
      // deferred to a later attempt, being settled; and their group commit (batches, deliveries in
      // them, batches settled one by one, deliveries waiting).
      webhookSettling: deps.webhooks.settling,
      reconciliationSettled: {
        payments: await t.counterValue(t.reconciled, { kind: 'payment' }),
        payouts: await t.counterValue(t.reconciled, { kind: 'payout' }),
      },
      // Notifications sent beyond the tab: by channel and outcome, and the time from notification to send.
      deliveries: await t.deliveryFigures(),
      recentErrors: t.recentErrors(),
      ...(detail ? { process: processFigures() } : {}),
    });
  });
  return router;
}

function processFigures() {
  const m = process.memoryUsage();
  const cpu = process.cpuUsage();
  return {
    nodeVersion: process.version,
    rssBytes: m.rss,
    heapUsedBytes: m.heapUsed,
    heapTotalBytes: m.heapTotal,
    externalBytes: m.external,
    cpuSeconds: Math.round((cpu.user + cpu.system) / 1e4) / 100,
    uptimeSeconds: Math.round(process.uptime()),
  };
}
