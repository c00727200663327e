import { Router } from 'express';
import { z } from 'zod';
import { authenticate, principalOf } from '../http/authenticate';
import { EmptyBody, parseInput } from '../http/validate';
import { idempotent } from '../http/idempotency';
import { pathId, RowId } from '../http/ids';
import { EventType } from '../events/event-types';
import type { AppDeps } from '../app-deps';

export const InboxQuery = z.strictObject({
  unread: z.enum(['true', 'false']).optional(),
  before: RowId.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

export const Preferences = z.strictObject({ mutedTypes: z.array(EventType).max(50) });

export function notificationRoutes(deps: AppDeps): Router {
  const router = Router();
  const auth = authenticate(deps);
  const once = idempotent(deps.db.knex);
  const svc = deps.notifications;

  router.get('/api/notifications', auth, async (req, res) => {
    const q = parseInput(InboxQuery, req.query);
    res.json(await svc.list(principalOf(req), { unreadOnly: q.unread === 'true', before: q.before, limit: q.limit }));
  });

  // Bodiless, and said so: a body with fields is a client's mistake, not something to ignore.
  router.post('/api/notifications/read-all', auth, once, async (req, res) => {
    parseInput(EmptyBody, req.body ?? {});
    res.json(await svc.markRead(principalOf(req)));
  });

  router.post('/api/notifications/:id/read', auth, once, async (req, res) => {
    const id = pathId(req.params.id, 'Notification');
    parseInput(EmptyBody, req.body ?? {});
    res.json(await svc.markRead(principalOf(req), id));
  });

  router.get('/api/me/notification-preferences', auth, async (req, res) => {
    res.json(await svc.preferences(principalOf(req)));
  });

  router.put('/api/me/notification-preferences', auth, async (req, res) => {
    const body = parseInput(Preferences, req.body);
    res.json(await svc.setPreferences(principalOf(req), body.mutedTypes));
  });

  return router;
}
