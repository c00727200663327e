import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request } from 'express';
import { z } from 'zod';
import { authenticateRequest, type AuthDeps } from '../http/authenticate';
import { limitOutsideExpress, pollLimit, setPairs } from '../http/rate-limits';
import { parseInput } from '../http/validate';
import { AppError } from '../errors/app-error';
import { checkCursor, compareIds, EVENT_ID_PATTERN, logBounds, readEvents } from '../events/event-log';
import { channelsFor } from '../events/audience';
import { toEnvelope, type ChannelName } from '../events/event-types';
import type { PollResponse } from '../contract/events';

export type { PollResponse, PollSink };
import type { Config } from '../config';
import type { Database } from '../storage/db';
import type { Telemetry } from '../metrics/telemetry';
import type { OutboxRelay } from '../events/outbox-relay';
import type { Principal } from '../auth/principal';
import type { PollWindow } from './poll-window';
import type { HeldPolls } from './held-polls';
import type { Lifecycle } from '../http/lifecycle';
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

export interface PollerDeps extends AuthDeps {
  config: Pick<Config, 'POLL_RATE_LIMIT_PER_MIN' | 'POLL_INTERVAL_MS' | 'POLL_MAX_WAIT_S' | 'LONG_POLLS_PER_USER_MAX'>;
  db: Pick<Database, 'knex'>;
  /** The recent log in memory, fed by the relay's runs (poll-window.ts). */
  pollWindow: PollWindow;
  heldPolls: HeldPolls;
  relay: Pick<OutboxRelay, 'dispatchedId'>;
  telemetry: Pick<Telemetry, 'pollRequests'>;
  lifecycle: Pick<Lifecycle, 'draining'>;
}
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

  constructor(private readonly deps: PollerDeps) {
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
      sink.failed(req, res, err, startedAt);
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
      sink.failed(req, res, err, startedAt);
    } else if (body) this.send(req, res, sink, startedAt, headers, body);
    else sink.finished(req, res, startedAt);
  }

  private send(req: IncomingMessage, res: ServerResponse, sink: PollSink, startedAt: number, headers: readonly string[], body: PollResponse): void {
    setPairs(res, headers);
    try {
      sink.decorate(req, res);
    } catch (err) {
      return sink.failed(req, res, err, startedAt);
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

  /** The per-user poll limit; its headers go to `headers`, for the answer or the failure to carry. */
  private limited(req: IncomingMessage, principal: Principal, headers: string[]): Promise<void> {
    (req as Request).principal = principal;
    return limitOutsideExpress(this.rateLimit, req, headers);
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
