import type { Knex } from 'knex';
import type { Logger } from '../logger';
import { GroupCommit } from '../storage/group-commit';
import { appendEvents } from './event-log';
import { NewEvent, type EventRecord } from './event-types';

/** Publishes per transaction at most, when they queue up (see `publish`). */
const MAX_PUBLISH_BATCH = 50;

export type Emit = (event: NewEvent) => void;

export interface Committed<T> {
  result: T;
  events: EventRecord[];
}

/**
 * The one way to change state and publish: `fn` makes its change in `trx` and emits events; they
 * are appended at the end of the same transaction (so the append lock is held briefly) and handed
 * to `onCommitted` only after the commit succeeded. A rollback leaves neither change nor event.
 */
export class EventPublisher {
  constructor(
    private readonly knex: Knex,
    private readonly onCommitted: (events: EventRecord[]) => void,
    /** Events that follow from the emitted ones (notifications), written in the same transaction. */
    private readonly derive: (trx: Knex.Transaction, events: readonly NewEvent[]) => Promise<NewEvent[]> = async () => [],
    /** This instance's id, sent with the commit's NOTIFY (see appendEvents). */
    private readonly origin = '',
    private readonly logger?: Logger,
  ) {}

  private readonly publishing = new GroupCommit<NewEvent[], EventRecord[]>({
    maxBatch: MAX_PUBLISH_BATCH,
    runBatch: (groups) => this.commitGroups(groups),
    runOne: async (group) => (await this.commitGroups([group]))[0],
    onBatchFailed: (err, size) => this.logger?.warn({ code: 'PUBLISH_BATCH_RETRIED', size, err }, 'publish batch failed; publishing each alone'),
  });

  async transaction<T>(fn: (trx: Knex.Transaction, emit: Emit) => Promise<T>): Promise<Committed<T>> {
    const committed = await this.knex.transaction(async (trx) => {
      const pending: NewEvent[] = [];
      const result = await fn(trx, (e) => pending.push(NewEvent.parse(e)));
      const derived = pending.length ? await this.derive(trx, pending) : [];
      const events = await appendEvents(trx, [...pending, ...derived], this.origin);
      return { result, events };
    });
    if (committed.events.length > 0) this.onCommitted(committed.events);
    return committed;
  }

  /**
   * Publish events that are not tied to another change (announcements, operator messages).
   *
   * Appends are serialized, and a transaction holds the append lock from its append until its
   * COMMIT is back, so one transaction per publish caps how many go out per second however many
   * arrive at once. Publishes that arrive while one is being written share the next transaction
   * (group commit): each keeps its own events, in its own order and contiguous in the log, with
   * the notifications derived from them, exactly as if they had committed one after another. A
   * publish that arrives alone is written at once in a transaction of its own.
   */
  async publish(events: NewEvent[]): Promise<EventRecord[]> {
    // Checked here, so bad input fails its own caller and never a batch.
    return this.publishing.submit(events.map((e) => NewEvent.parse(e)));
  }

  /** Batches written so far, the publishes in them, batches that failed and were run one by one. */
  get batching(): { batches: number; publishes: number; retriedAlone: number; queued: number } {
    const { batches, items, fallbacks } = this.publishing.stats;
    return { batches, publishes: items, retriedAlone: fallbacks, queued: this.publishing.queued };
  }

  /** One transaction for every group: each group followed by what it derives, one append for all. */
  private async commitGroups(groups: ReadonlyArray<readonly NewEvent[]>): Promise<EventRecord[][]> {
    const written = await this.knex.transaction(async (trx) => {
      const all: NewEvent[] = [];
      const sizes: number[] = [];
      for (const group of groups) {
        // One group at a time: each sees the notifications of those before it (unread counts).
        const derived = group.length ? await this.derive(trx, group) : [];
        all.push(...group, ...derived);
        sizes.push(group.length + derived.length);
      }
      // Ids are assigned in the order of `all`, so each group's records are the next `size` of them.
      const events = await appendEvents(trx, all, this.origin);
      let at = 0;
      return sizes.map((n) => events.slice(at, (at += n)));
    });
    const events = written.flat();
    if (events.length > 0) this.onCommitted(events);
    return written;
  }
}
