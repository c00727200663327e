import { Router } from 'express';
import { logBounds } from '../events/event-log';
import type { AppDeps } from '../app-deps';

/**
 * GET /api/status: for operators with curl, no token. Counts only, never user ids or personal
 * data. A database outage is reported in the body, not as an error, so the rest stays visible.
 */
export function statusRoutes(deps: AppDeps): Router {
  const router = Router();
  router.get('/api/status', async (_req, res) => {
    const { telemetry: t, lifecycle } = deps;
    const started = process.hrtime.bigint();
    let database: Record<string, unknown>;
    let log: { lastEventId: string | null; oldestReplayableAfter: string | null } = {
      lastEventId: null,
      oldestReplayableAfter: null,
    };
    try {
      const bounds = await logBounds(deps.db.knex);
      database = { reachable: true, kind: deps.db.kind, latencyMs: Number(process.hrtime.bigint() - started) / 1e6 };
      log = { lastEventId: bounds.lastId, oldestReplayableAfter: bounds.prunedThrough };
    } catch {
      database = { reachable: false, kind: deps.db.kind, latencyMs: null };
    }
    const streams = deps.registry.counts();
    res.set('Cache-Control', 'no-store').json({
      status: lifecycle.draining ? 'draining' : database.reachable ? 'ok' : 'degraded',
      version: lifecycle.version,
      instanceId: deps.config.INSTANCE_ID,
      uptimeSeconds: Math.round((Date.now() - lifecycle.startedAt.getTime()) / 1000),
      database,
      streams: { open: streams.total, byRole: streams.byRole, connectedUsers: streams.users },
      longPolls: deps.heldPolls.counts(),
      events: {
        ...log,
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
      // Deliveries share transactions under load (group commit): how many batches, how many
      // deliveries in them, how many batches failed and were settled one by one, how many wait.
      webhookSettling: deps.webhooks.settling,
      reconciliationSettled: {
        payments: await t.counterValue(t.reconciled, { kind: 'payment' }),
        payouts: await t.counterValue(t.reconciled, { kind: 'payout' }),
      },
      recentErrors: t.recentErrors(),
    });
  });
  return router;
}
