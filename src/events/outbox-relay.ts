import type { Knex } from 'knex';
import type { Logger } from '../logger';
import { compareIds, logBounds, readLogTail } from './event-log';
import type { EventRecord } from './event-types';

const BATCH = 500;

/** Up to this many user channels across a commit's events are dispatched in the committing tick. */
export const FEW_USERS = 8;

function addressesFewUsers(events: readonly EventRecord[]): boolean {
  let channels = 0;
  for (const e of events) {
    for (const c of e.audience) if (!c.startsWith('user:') || ++channels > FEW_USERS) return false;
  }
  return true;
}

/**
 * What the relay hands on: consecutive committed events in id order, each exactly once, a run at
 * a time: every event of the log with an id in (after, the run's last id], but those already pruned.
 */
export type DeliverRun = (events: readonly EventRecord[], after: string) => void;

/**
 * Moves committed events from the log to live sessions, strictly in id order and each once.
 *
 * It reads the log rather than trusting in-memory hand-offs: two transactions that commit in
 * order can reach their post-commit callbacks out of order, and another instance's commits never
 * reach ours at all. Because appends are serialized (event-log.ts), "every id above my cursor"
 * never skips one. `poke()` after a local commit makes delivery immediate; the fallback poll
 * picks up commits from other instances and recovers from a failed read.
 */
export class OutboxRelay {
  private cursor = '0';
  private running: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly knex: Knex,
    private readonly deliver: DeliverRun,
    private readonly logger: Logger,
    private readonly pollMs: number,
    /**
     * Told the retention bound (every id at or below it was pruned) that each read of the log saw
     * in its own snapshot, before the events of that read are delivered.
     */
    private readonly prunedThrough: (through: string) => void = () => undefined,
  ) {}

  /** The last id handed to the registry: everything at or below it has been delivered live. */
  get dispatchedId(): string {
    return this.cursor;
  }

  async start(): Promise<void> {
    // Start from now: sessions replay older events from the log themselves.
    this.cursor = (await logBounds(this.knex)).lastId;
    this.timer = setInterval(() => this.poke(), this.pollMs);
    this.timer.unref();
  }

  /** Something committed; read and dispatch. Concurrent pokes coalesce into one more pass. */
  poke(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain().finally(() => {
      this.running = null;
    });
  }

  /**
   * Events this instance has just committed. When they follow the cursor with no gap, everything
   * before them has been dispatched (appends are serialized, so no lower id can still commit) and
   * they go out now, without reading them back; otherwise (another commit in between, an id left
   * unused by a rollback) the log is read as usual. The drain skips ids at or below the cursor,
   * so the two paths never deliver an event twice.
   *
   * Events for a few users go out before the request that committed them answers: a handful of
   * stream writes, and the recipients hear of it sooner. Anything addressed to a role,
   * to all or to many users waits for setImmediate, so that the request answers first rather
   * than after a fan-out to thousands of streams.
   */
  offer(events: readonly EventRecord[]): void {
    if (addressesFewUsers(events)) this.take(events);
    else setImmediate(() => this.take(events));
  }

  private take(events: readonly EventRecord[]): void {
    if (this.stopped) return;
    // A drain may have read some or all of them already.
    const fresh = events.filter((e) => compareIds(e.id, this.cursor) > 0);
    let next = BigInt(this.cursor) + 1n;
    if (!fresh.every((e) => BigInt(e.id) === next++)) return this.poke();
    if (fresh.length) this.dispatch(fresh);
  }

  /** Resolves once everything committed before the call has been dispatched (tests, shutdown). */
  async settle(): Promise<void> {
    this.poke();
    while (this.running) await this.running;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  private async drain(): Promise<void> {
    do {
      this.again = false;
      let batch: EventRecord[];
      do {
        try {
          batch = await this.readTail();
        } catch (err) {
          this.logger.error({ code: 'RELAY_READ_FAILED', err }, 'could not read the event log; will retry');
          return;
        }
        const fresh = batch.filter((e) => compareIds(e.id, this.cursor) > 0);
        if (fresh.length) this.dispatch(fresh);
      } while (batch.length === BATCH && !this.stopped);
    } while (this.again && !this.stopped);
  }

  /** Up to BATCH events after the cursor; their retention bound goes to `prunedThrough` first. */
  private async readTail(): Promise<EventRecord[]> {
    const { events, prunedThrough } = await readLogTail(this.knex, this.cursor, BATCH);
    this.prunedThrough(prunedThrough);
    return events;
  }

  /** `events` follow the cursor with no gap, in id order. */
  private dispatch(events: readonly EventRecord[]): void {
    const after = this.cursor;
    this.cursor = events[events.length - 1].id;
    try {
      this.deliver(events, after);
    } catch (err) {
      this.logger.error({ code: 'BROADCAST_FAILED', firstEventId: events[0].id, lastEventId: this.cursor, err }, 'delivering events failed');
    }
  }
}
