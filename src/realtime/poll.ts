import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { authenticateRequest } from '../http/authenticate';
import { pollLimit } from '../http/rate-limits';
import { parseInput } from '../http/validate';
import { checkCursor, EVENT_ID_PATTERN, logBounds, readEvents } from '../events/event-log';
import { channelsFor } from '../events/audience';
import { toEnvelope, type EventEnvelope } from '../events/event-types';
import type { AppDeps } from '../app-deps';
import type { Principal } from '../auth/principal';
import { PollWindow } from './poll-window';

export const POLL_PATH = '/api/events';

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

/**
 * GET /api/events: the stream's events, ids and envelopes, for clients that cannot hold a stream.
 * Written on plain node:http objects: the server answers polls before Express (poll-endpoint.ts),
 * and the Express route answers the rest with this same code.
 */
export class Poller {
  private readonly recent: PollWindow;
  private readonly rateLimit: ReturnType<typeof pollLimit>;

  constructor(private readonly deps: AppDeps) {
    this.recent = new PollWindow(deps.db.knex, () => deps.relay.dispatchedId);
    this.rateLimit = pollLimit(deps.config.POLL_RATE_LIMIT_PER_MIN);
  }

  /** Answers one poll with 200, or throws (an AppError, or what the database threw) before answering. */
  async serve(req: IncomingMessage, res: ServerResponse, rawQuery: unknown): Promise<void> {
    const principal = await authenticateRequest(this.deps, req);
    await this.limited(req, res, principal);
    const q = parseInput(PollQuery, rawQuery);
    this.deps.telemetry.pollRequests.inc();
    sendJson(res, await this.answer(channelsFor(principal), q));
  }

  private async answer(channels: ReturnType<typeof channelsFor>, q: z.infer<typeof PollQuery>): Promise<PollResponse> {
    const base = { pollIntervalMs: this.deps.config.POLL_INTERVAL_MS };
    if (q.after !== undefined) {
      const page = await this.recent.page(q.after, channels, q.limit);
      if (page) {
        const { events, lastEventId, hasMore } = page;
        return { events: events.map(toEnvelope), lastEventId, hasMore, reset: false, ...base };
      }
    }
    // A first poll, or a cursor outside the window: the log itself.
    const db = this.deps.db.knex;
    // Bounds first: nothing at or below lastId can still appear (appends are serialized), so
    // answering "nothing more up to lastId" is safe even if more commits meanwhile.
    const bounds = await logBounds(db);
    if (q.after === undefined) return { events: [], lastEventId: bounds.lastId, hasMore: false, reset: false, ...base };
    const cursor = checkCursor(q.after, bounds);
    if (!cursor.ok) return { events: [], lastEventId: bounds.lastId, hasMore: false, reset: true, ...base };
    const rows = await readEvents(db, { after: cursor.after, upTo: bounds.lastId, channels, limit: q.limit + 1 });
    const hasMore = rows.length > q.limit;
    const page = rows.slice(0, q.limit);
    const lastEventId = hasMore ? page[page.length - 1].id : bounds.lastId;
    return { events: page.map(toEnvelope), lastEventId, hasMore, reset: false, ...base };
  }

  /**
   * express-rate-limit's middleware, keyed by user, on node:http's request. Of the response it
   * uses what this view gives (our handler answers nothing itself); of Express, only
   * `res.append` for its draft-8 headers, which is node's appendHeader. A view rather than a
   * method added to `res`: a poll that fails goes on to Express, whose own `append` it would hide.
   */
  private limited(req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void> {
    const r = req as Request;
    r.principal = principal;
    const view = {
      get headersSent() {
        return res.headersSent;
      },
      setHeader: (name: string, value: string) => res.setHeader(name, value),
      append: (name: string, value: string) => res.appendHeader(name, value),
    };
    return new Promise((resolve, reject) => {
      void this.rateLimit(r, view as unknown as Response, (err?: unknown) => (err === undefined ? resolve() : reject(err)));
    });
  }
}

/** What Express's res.json sends (same headers), without Express. */
function sendJson(res: ServerResponse, body: PollResponse): void {
  const text = JSON.stringify(body);
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

const pollers = new WeakMap<AppDeps, Poller>();

/** The server's one Poller (one window, one rate-limit count), shared by both ways in. */
export function pollerOf(deps: AppDeps): Poller {
  let p = pollers.get(deps);
  if (!p) pollers.set(deps, (p = new Poller(deps)));
  return p;
}
