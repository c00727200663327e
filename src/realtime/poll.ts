import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { authenticateRequest } from '../http/authenticate';
import { pollLimit } from '../http/rate-limits';
import { parseInput } from '../http/validate';
import { AppError } from '../errors/app-error';
import { checkCursor, compareIds, EVENT_ID_PATTERN, logBounds, readEvents } from '../events/event-log';
import { channelsFor } from '../events/audience';
import { toEnvelope, type ChannelName } from '../events/event-types';
import type { PollResponse } from '../contract/events';

export type { PollResponse, PollSink };
import type { AppDeps } from '../app-deps';
import type { Principal } from '../auth/principal';
import type { PollWindow } from './poll-window';
import { PollDeadlines } from './poll-deadlines';
import { WaitingPoll, type PollHolder, type PollSink } from './poll-wait';
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
type Channels = readonly ChannelName[];

/**
 * GET /api/events: the stream's events, ids and envelopes, for clients that cannot hold a stream.
 * Written on plain node:http objects: the server answers polls before Express (poll-endpoint.ts),
 * and the Express route answers the rest with this same code; each way in gives its sink.
 */
export class Poller implements PollHolder {
  private readonly recent: PollWindow;
  private readonly rateLimit: ReturnType<typeof pollLimit>;
  private readonly deadlines = new PollDeadlines();

  constructor(private readonly deps: AppDeps) {
    this.recent = deps.pollWindow;
    this.rateLimit = pollLimit(deps.config.POLL_RATE_LIMIT_PER_MIN);
  }

  /**
   * Answers one poll with 200, or tells the sink it failed (an AppError, or what the database
   * threw) before answering. A long poll (`wait`) that finds nothing is held until an event for
   * it is dispatched, the wait runs out, or the server shuts down; a client that leaves meanwhile
   * gets nothing. Resolves once the poll is answered, failed or held.
   */
  async serve(req: IncomingMessage, res: ServerResponse, rawQuery: unknown, sink: PollSink, startedAt: number): Promise<void> {
    // The rate limiter's headers, set on the answer or the failure: a held poll keeps two pairs,
    // not a response's header table.
    const headers: string[] = [];
    try {
      const principal = await authenticateRequest(this.deps, req);
      await this.limited(req, principal, headers);
      const q = parseInput(PollQuery, rawQuery);
      this.deps.telemetry.pollRequests.inc();
      const channels = channelsFor(principal);
      const body = await this.answer(channels, q);
      // Without `after` there is nothing to wait after: the answer is the starting cursor.
      if (q.wait > 0 && q.after !== undefined && body.events.length === 0 && !body.reset && !this.deps.lifecycle.draining) {
        this.hold(req, res, sink, startedAt, headers, principal, channels, q, body.lastEventId);
        return;
      }
      this.send(req, res, sink, startedAt, headers, body);
    } catch (err) {
      setPairs(res, headers);
      sink.failed(req, res, err);
    }
  }

  /** Holds a poll that found nothing after `cursor` (poll-wait.ts). */
  private hold(
    req: IncomingMessage,
    res: ServerResponse,
    sink: PollSink,
    startedAt: number,
    headers: string[],
    principal: Principal,
    channels: Channels,
    q: PollQuery,
    cursor: string,
  ): void {
    const { config, heldPolls, relay } = this.deps;
    // The client may have left while the first answer was read: its 'close' has passed.
    if (!res.socket || res.socket.destroyed) return sink.finished(req, res, startedAt);
    // One flat string: the limiter builds its values by concatenation, and the pieces of those
    // (~0.7 KB a poll, in heap snapshots) would otherwise stay with the poll for as long as it waits.
    const kept = headers.join('\n');
    const poll = new WaitingPoll(this, principal.userId, channels, q.types, q.limit, res, sink, startedAt, kept, cursor);
    if (!heldPolls.hold(poll, config.LONG_POLLS_PER_USER_MAX)) {
      throw new AppError('TOO_MANY_POLLS', `At most ${config.LONG_POLLS_PER_USER_MAX} waiting polls per user`);
    }
    // Held for long: what only the first answer needed goes, so the request does not keep it.
    (req as Request).principal = undefined;
    poll.listen();
    this.deadlines.add(poll, Math.min(q.wait, config.POLL_MAX_WAIT_S) * 1_000);
    if (compareIds(relay.dispatchedId, cursor) > 0) poll.wake();
  }

  look(poll: WaitingPoll, cursor: string): Promise<PollResponse> {
    return this.answer(poll.channels, { after: cursor, limit: poll.limit, wait: 0, types: poll.types });
  }

  settle(poll: WaitingPoll, body: PollResponse | undefined, err: unknown): void {
    this.deps.heldPolls.leave(poll);
    this.deadlines.remove(poll);
    const { res, sink, startedAt } = poll;
    const req = res.req;
    const headers = poll.headers === '' ? [] : poll.headers.split('\n');
    if (err !== undefined) {
      setPairs(res, headers);
      sink.failed(req, res, err);
    } else if (body) this.send(req, res, sink, startedAt, headers, body);
    else sink.finished(req, res, startedAt);
  }

  private send(req: IncomingMessage, res: ServerResponse, sink: PollSink, startedAt: number, headers: readonly string[], body: PollResponse): void {
    setPairs(res, headers);
    try {
      sink.decorate(req, res);
    } catch (err) {
      return sink.failed(req, res, err);
    }
    sendJson(res, body);
    sink.finished(req, res, startedAt);
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
   * uses what this view gives (our handler answers nothing itself): its headers (draft-8's, or
   * Retry-After) go to `headers` as name/value pairs, for the answer or the failure to carry.
   * A view rather than methods added to `res`: a poll that fails goes on to Express, whose own
   * `append` it would hide.
   */
  private limited(req: IncomingMessage, principal: Principal, headers: string[]): Promise<void> {
    const r = req as Request;
    r.principal = principal;
    const view = {
      headersSent: false,
      setHeader: (name: string, value: string) => headers.push(name, String(value)),
      append: (name: string, value: string) => headers.push(name, String(value)),
    };
    return new Promise((resolve, reject) => {
      void this.rateLimit(r, view as unknown as Response, (err?: unknown) => {
        // Its count for the request, which nothing here reads: a held poll need not keep it.
        (r as { rateLimit?: unknown }).rateLimit = undefined;
        if (err === undefined) resolve();
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the limiter's error, passed on as it came
        else reject(err);
      });
    });
  }
}

/** Sets name/value pairs; a name given twice is sent twice, as `append` would. */
function setPairs(res: ServerResponse, pairs: readonly string[]): void {
  if (res.headersSent) return;
  for (let i = 0; i < pairs.length; i += 2) res.appendHeader(pairs[i], pairs[i + 1]);
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
