import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { authenticateRequest } from '../http/authenticate';
import { pollLimit } from '../http/rate-limits';
import { parseInput } from '../http/validate';
import { AppError } from '../errors/app-error';
import { checkCursor, compareIds, EVENT_ID_PATTERN, logBounds, readEvents } from '../events/event-log';
import { channelsFor } from '../events/audience';
import { toEnvelope } from '../events/event-types';
import type { PollResponse } from '../contract/events';

export type { PollResponse };
import type { AppDeps } from '../app-deps';
import type { Principal } from '../auth/principal';
import { PollWindow } from './poll-window';
import type { HeldPoll } from './held-polls';
import { TypesParam } from './type-filter';

export const POLL_PATH = '/api/events';

export const PollQuery = z.strictObject({
  // Unlike the stream's Last-Event-ID (answered in-band), a malformed `after` is the caller's bug: 400.
  after: z.string().regex(EVENT_ID_PATTERN, 'must be an event id').optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  // Seconds to hold the poll for an event; more than POLL_MAX_WAIT_S waits POLL_MAX_WAIT_S, so a
  // client need not know each server's setting. An hour bounds what a client may send at all.
  wait: z.coerce.number().int().min(0).max(3_600).default(0),
  // Only these types (`booking.*,payment.status_changed`); the cursor moves as without a filter.
  types: TypesParam.optional(),
});
type PollQuery = z.infer<typeof PollQuery>;
type Channels = ReturnType<typeof channelsFor>;

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

  /**
   * Answers one poll with 200, or throws (an AppError, or what the database threw) before answering.
   * A long poll (`wait`) that finds nothing is held until an event for it is dispatched, the wait
   * runs out, or the server shuts down; a client that leaves meanwhile gets nothing.
   */
  async serve(req: IncomingMessage, res: ServerResponse, rawQuery: unknown): Promise<void> {
    const principal = await authenticateRequest(this.deps, req);
    await this.limited(req, res, principal);
    const q = parseInput(PollQuery, rawQuery);
    this.deps.telemetry.pollRequests.inc();
    const channels = channelsFor(principal);
    let body: PollResponse | undefined = await this.answer(channels, q);
    // Without `after` there is nothing to wait after: the answer is the starting cursor.
    if (q.wait > 0 && q.after !== undefined && body.events.length === 0 && !body.reset && !this.deps.lifecycle.draining) {
      body = await this.hold(res, principal, channels, q, body.lastEventId);
    }
    if (body) sendJson(res, body);
  }

  /**
   * Holds a poll that found nothing after `cursor`. Nothing dispatched after the first answer
   * can be missed: the poll joins the index synchronously once that answer is in, and if the
   * relay moved past `cursor` before then (it dispatches while we read), it looks again at once. Each
   * look reads the poll window (memory; one shared read when the relay moved), and wakes that
   * overlap coalesce into one more look.
   */
  private hold(res: ServerResponse, principal: Principal, channels: Channels, q: PollQuery, cursor: string): Promise<PollResponse | undefined> {
    const { config, heldPolls, relay } = this.deps;
    return new Promise((resolve, reject) => {
      let looking = false;
      let again = false;
      let final = false;
      let done = false;
      const finish = (body: PollResponse | undefined, err?: unknown) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        res.removeListener('close', gone);
        heldPolls.leave(poll);
        if (err !== undefined) reject(err);
        else resolve(body);
      };
      const look = () => {
        if (looking) {
          again = true;
          return;
        }
        looking = true;
        again = false;
        this.answer(channels, { ...q, after: cursor }).then((body) => {
          looking = false;
          if (done) return;
          if (final || body.events.length > 0 || body.reset) return finish(body);
          // Nothing for this poll up to here: later looks start from it.
          cursor = body.lastEventId;
          if (again) look();
        }, (err: unknown) => finish(undefined, err));
      };
      const poll: HeldPoll = {
        userId: principal.userId,
        channels,
        types: q.types,
        wake: look,
        release: () => {
          final = true;
          look();
        },
      };
      // The client may have left while the first answer was read: its 'close' has passed.
      if (!res.socket || res.socket.destroyed) return resolve(undefined);
      if (!heldPolls.hold(poll, config.LONG_POLLS_PER_USER_MAX)) {
        reject(new AppError('TOO_MANY_POLLS', `At most ${config.LONG_POLLS_PER_USER_MAX} waiting polls per user`));
        return;
      }
      const gone = () => finish(undefined);
      res.on('close', gone);
      const timer = setTimeout(poll.release, Math.min(q.wait, config.POLL_MAX_WAIT_S) * 1_000);
      if (compareIds(relay.dispatchedId, cursor) > 0) look();
    });
  }

  private async answer(channels: Channels, q: PollQuery): Promise<PollResponse> {
    const base = { pollIntervalMs: this.deps.config.POLL_INTERVAL_MS };
    if (q.after !== undefined) {
      const page = await this.recent.page(q.after, channels, q.limit, q.types);
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
    const rows = await readEvents(db, { after: cursor.after, upTo: bounds.lastId, channels, types: q.types, limit: q.limit + 1 });
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
