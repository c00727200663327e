import type { Knex } from 'knex';
import { appendEvents } from './event-log';
import { NewEvent, type EventRecord } from './event-types';

export type Emit = (event: NewEvent) => void;

export interface Committed<T> {
  result: T;
  events: EventRecord[];
}

/** What the publisher hands on after each commit: the events it wrote, with their ids, in order. */
export type OnCommitted = (events: EventRecord[]) => void;

/**
 * Events that follow from the emitted ones (notifications, operators' alerts), written in the
 * same transaction: the publisher asks once per transaction, before appending.
 */
export type DeriveEvents = (trx: Knex.Transaction, events: readonly NewEvent[]) => Promise<NewEvent[]>;

/**
 * The one way to change state and publish: `fn` makes its change in `trx` and emits events; they
 * are appended at the end of the same transaction (so the append lock is held briefly) and handed
 * to `onCommitted` only after the commit succeeded. A rollback leaves neither change nor event.
 */
export class EventPublisher {
  constructor(
    private readonly knex: Knex,
    private readonly onCommitted: OnCommitted,
    private readonly derive: DeriveEvents = () => Promise.resolve([]),
    /** This instance's id, sent with the commit's NOTIFY (see appendEvents). */
    private readonly origin = '',
  ) {}

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

  /** Publish events that are not tied to another change (announcements, operator messages). */
  async publish(events: NewEvent[]): Promise<EventRecord[]> {
    const { events: written } = await this.transaction((_trx, emit) => {
      events.forEach(emit);
      return Promise.resolve();
    });
    return written;
  }
}
