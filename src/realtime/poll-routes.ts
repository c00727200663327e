import { Router } from 'express';
import { z } from 'zod';
import { authenticate, principalOf } from '../http/authenticate';
import { pollLimit } from '../http/rate-limits';
import { parseInput } from '../http/validate';
import { checkCursor, EVENT_ID_PATTERN, logBounds, readEvents } from '../events/event-log';
import { channelsFor } from '../events/audience';
import { toEnvelope, type EventEnvelope } from '../events/event-types';
import type { AppDeps } from '../app-deps';
import { PollWindow } from './poll-window';

const PollQuery = z.strictObject({
  // Unlike the stream's Last-Event-ID (answered in-band), a malformed `after` is the caller's bug: 400.
  after: z.string().regex(EVENT_ID_PATTERN, 'must be an event id').optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export interface PollResponse {
  events: EventEnvelope[];
  lastEventId: string;
  hasMore: boolean;
  reset: boolean;
  pollIntervalMs: number;
}

/** GET /api/events: the stream's events, ids and envelopes, for clients that cannot hold a stream. */
export function pollRoutes(deps: AppDeps): Router {
  const router = Router();
  const recent = new PollWindow(deps.db.knex, () => deps.relay.dispatchedId);
  router.get('/api/events', authenticate(deps), pollLimit(deps.config.POLL_RATE_LIMIT_PER_MIN), async (req, res) => {
    const q = parseInput(PollQuery, req.query);
    const principal = principalOf(req);
    deps.telemetry.pollRequests.inc();
    const base = { pollIntervalMs: deps.config.POLL_INTERVAL_MS };
    if (q.after !== undefined) {
      const page = await recent.page(q.after, channelsFor(principal), q.limit);
      if (page) {
        const { events, lastEventId, hasMore } = page;
        return res.json({ events: events.map(toEnvelope), lastEventId, hasMore, reset: false, ...base } satisfies PollResponse);
      }
    }
    // A first poll, or a cursor outside the window: the log itself.
    const db = deps.db.knex;
    // Bounds first: nothing at or below lastId can still appear (appends are serialized), so
    // answering "nothing more up to lastId" is safe even if more commits meanwhile.
    const bounds = await logBounds(db);
    if (q.after === undefined) {
      return res.json({ events: [], lastEventId: bounds.lastId, hasMore: false, reset: false, ...base } satisfies PollResponse);
    }
    const cursor = checkCursor(q.after, bounds);
    if (!cursor.ok) {
      return res.json({ events: [], lastEventId: bounds.lastId, hasMore: false, reset: true, ...base } satisfies PollResponse);
    }
    const rows = await readEvents(db, {
      after: cursor.after,
      upTo: bounds.lastId,
      channels: channelsFor(principal),
      limit: q.limit + 1,
    });
    const hasMore = rows.length > q.limit;
    const page = rows.slice(0, q.limit);
    const lastEventId = hasMore ? page[page.length - 1].id : bounds.lastId;
    res.json({ events: page.map(toEnvelope), lastEventId, hasMore, reset: false, ...base } satisfies PollResponse);
  });
  return router;
}
