import type { Knex } from 'knex';
import { compareIds, logBounds } from '../events/event-log';
import type { Logger } from '../logger';

/** How old the figures may be before a status call has them checked again (in the background). */
export const STATUS_REFRESH_MS = 2_000;

export interface DatabaseFigures {
  reachable: boolean;
  latencyMs: number | null;
}

/**
 * What /api/status says about the database and the log, kept in memory: the route is open to
 * anyone with curl, so a call must never cost a query. A call that finds them older than
 * STATUS_REFRESH_MS starts a check it does not wait for, so however often status is asked, the
 * database sees at most one check per interval, and none while nobody asks (no timer: an idle
 * server sends nothing).
 */
export class StatusFigures {
  database: DatabaseFigures = { reachable: false, latencyMs: null };
  log: { lastEventId: string | null; oldestReplayableAfter: string | null } = { lastEventId: null, oldestReplayableAfter: null };
  private checkedAt = 0;
  private running: Promise<void> | null = null;

  constructor(
    private readonly knex: Knex,
    private readonly logger: Logger,
    private readonly refreshMs = STATUS_REFRESH_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** One check now (once at a time); never throws. */
  refresh(): Promise<void> {
    return (this.running ??= (async () => {
      const started = process.hrtime.bigint();
      try {
        const bounds = await logBounds(this.knex);
        this.database = { reachable: true, latencyMs: Number(process.hrtime.bigint() - started) / 1e6 };
        this.log = { lastEventId: bounds.lastId, oldestReplayableAfter: bounds.prunedThrough };
      } catch (err) {
        if (this.database.reachable) this.logger.warn({ code: 'STATUS_DATABASE_UNREACHABLE', err: String(err) }, 'status check: database unreachable');
        this.database = { reachable: false, latencyMs: null };
      } finally {
        this.checkedAt = this.now();
        this.running = null;
      }
    })());
  }

  /** The figures as they are, with a check started behind them when they are getting old. */
  current(): { database: DatabaseFigures & { checkedMsAgo: number }; log: StatusFigures['log'] } {
    const age = this.now() - this.checkedAt;
    if (age >= this.refreshMs) void this.refresh();
    return { database: { ...this.database, checkedMsAgo: age }, log: this.log };
  }

  /** A request met DATABASE_UNAVAILABLE: say so now, rather than after the next check. */
  databaseFailed(): void {
    this.database = { reachable: false, latencyMs: null };
  }

  /** The larger of the last check's bound and what the relay has dispatched since. */
  lastEventId(dispatchedId: string): string | null {
    const known = this.log.lastEventId;
    return known === null || compareIds(dispatchedId, known) > 0 ? dispatchedId : known;
  }
}
