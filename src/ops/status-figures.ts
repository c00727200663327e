import type { Knex } from 'knex';
import { compareIds, logBounds } from '../events/event-log';
import type { Logger } from '../logger';

/** How often the background check reads the log's bounds (and so finds the database up or down). */
export const STATUS_REFRESH_MS = 2_000;

export interface DatabaseFigures {
  reachable: boolean;
  latencyMs: number | null;
}

/**
 * What /api/status says about the database and the log, kept in memory and refreshed in the
 * background: the route is open to anyone with curl, so a call to it must never cost a query.
 */
export class StatusFigures {
  database: DatabaseFigures = { reachable: false, latencyMs: null };
  log: { lastEventId: string | null; oldestReplayableAfter: string | null } = { lastEventId: null, oldestReplayableAfter: null };
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly knex: Knex,
    private readonly logger: Logger,
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
        this.running = null;
      }
    })());
  }

  /** A request met DATABASE_UNAVAILABLE: say so now, rather than at the next check. */
  databaseFailed(): void {
    this.database = { reachable: false, latencyMs: null };
  }

  /** The larger of the last check's bound and what the relay has dispatched since. */
  lastEventId(dispatchedId: string): string | null {
    const known = this.log.lastEventId;
    return known === null || compareIds(dispatchedId, known) > 0 ? dispatchedId : known;
  }

  start(intervalMs = STATUS_REFRESH_MS): void {
    this.timer ??= setInterval(() => void this.refresh(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
