import { Router } from 'express';
import { z } from 'zod';
import { authenticate, principalOf, type AuthDeps } from '../http/authenticate';
import { EmptyBody, parseInput } from '../http/validate';
import { idempotent } from '../http/idempotency';
import { pathId, RowId } from '../http/ids';
import type { Database } from '../storage/db';
import type { Inbox } from './inbox';
import { ContactPreferencesInput, toPreferenceColumns, toPreferencesView } from '../channels/contact-preferences';
import { readPreferences, writePreferences } from '../channels/preference-repository';

export const InboxQuery = z.strictObject({
  unread: z.enum(['true', 'false']).optional(),
  before: RowId.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

export interface NotificationRoutesDeps extends AuthDeps {
  db: Pick<Database, 'knex'>;
  inbox: Pick<Inbox, 'list' | 'markRead'>;
}

export function notificationRoutes(deps: NotificationRoutesDeps): Router {
  const router = Router();
  const auth = authenticate(deps);
  const once = idempotent(deps.db.knex);
  const svc = deps.inbox;

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

  // Muted types, contact details, channels per type and quiet hours; `{mutedTypes}` alone works as it always has.
  router.get('/api/me/notification-preferences', auth, async (req, res) => {
    res.json(toPreferencesView(await readPreferences(deps.db.knex, principalOf(req).userId)));
  });

  router.put('/api/me/notification-preferences', auth, async (req, res) => {
    const body = parseInput(ContactPreferencesInput, req.body);
    const userId = principalOf(req).userId;
    await writePreferences(deps.db.knex, userId, toPreferenceColumns(body));
    res.json(toPreferencesView(await readPreferences(deps.db.knex, userId)));
  });

  return router;
}
