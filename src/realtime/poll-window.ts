import type { Knex } from 'knex';
import { compareIds, toRecord, type EventRow } from '../events/event-log';
import { isAddressedTo } from '../events/audience';
import type { ChannelName, EventRecord } from '../events/event-types';
import { passes, type TypeFilter } from './type-filter';

/** Enough for every poller that polls at least once per ~minutes of traffic; a few MB at most. */
export const POLL_WINDOW_CAPACITY = 5_000;

export interface WindowPage {
  events: EventRecord[];
  lastEventId: string;
  hasMore: boolean;
}

/** An event row, or (the LEFT JOIN's row when there are no events) nulls with the bound. */
type WindowRow = { pruned_through: string } & (EventRow | { id: null });

/*
 * One statement: the newest events of (from, to], every audience, and the retention bound read in
 * the same snapshot. The LEFT JOIN keeps the bound when there are no events. Newest first, so that
 * a gap larger than the window costs one bounded read, not a walk through it.
 */
const FILL_SQL = `
  SELECT s.pruned_through::text AS pruned_through, e.id, e.type, e.audience, e.payload, e.occurred_at
  FROM event_log_state s
  LEFT JOIN LATERAL (
    SELECT id, type, audience, payload, occurred_at FROM events
    WHERE id > ? AND id <= ? ORDER BY id DESC LIMIT ?
  ) e ON true
  WHERE s.id = 1`;

/**
 * The recent log, every audience, for polls: a poll whose cursor falls inside is answered from
 * memory, so 500 users polling cost one shared read per new event rather than reads per request.
 *
 * Invariant: `events` holds every event of the log with an id in (floor, top], in order. It holds
 * because:
 * - `top` only ever becomes a value of the relay's dispatchedId, and appends are serialized
 *   (event-log.ts), so at or below it nothing can still commit: a later read of (top, D] sees
 *   all that will ever exist there.
 * - what a read misses was pruned, and pruning raises pruned_through in the same transaction as
 *   the delete; the read sees that bound in its own snapshot, and the floor rises to it. A cursor
 *   below the floor goes to the database, which answers it exactly (a reset if it was pruned).
 *   Pruning after a read can only remove events the window still holds: serving them skips nothing.
 *
 * Reads happen only when a poll finds the relay ahead of `top` and are shared by every poll
 * waiting meanwhile; a server that nobody polls never reads nor holds anything. The window starts
 * at the relay's position at the first poll, so cursors from before then are the database's.
 */
export class PollWindow {
  private events: EventRecord[] = [];
  private floor: string | null = null;
  private top = '';
  private filling: Promise<void> | null = null;

  constructor(
    private readonly knex: Knex,
    /** The relay's dispatchedId: everything at or below it has committed. */
    private readonly dispatchedId: () => string,
    private readonly capacity = POLL_WINDOW_CAPACITY,
  ) {}

  /**
   * The page after `after` for these channels, through the newest dispatched event; undefined
   * when the cursor is outside the window (below it, or ahead of this instance's relay: another
   * instance committed what this one has not heard of yet, or a cursor that is not ours).
   * With `types`, only events of those types are returned; the cursor moves as without.
   */
  async page(after: string, channels: readonly ChannelName[], limit: number, types?: TypeFilter): Promise<WindowPage | undefined> {
    const target = this.dispatchedId();
    if (compareIds(after, target) > 0) return undefined;
    if (this.floor === null) this.floor = this.top = target;
    while (compareIds(this.top, target) < 0) {
      this.filling ??= this.fill().finally(() => (this.filling = null));
      await this.filling;
    }
    if (compareIds(after, this.floor) < 0) return undefined;

    const events: EventRecord[] = [];
    for (let i = this.firstAfter(after); i < this.events.length; i++) {
      const e = this.events[i];
      if (!isAddressedTo(e.audience, channels) || !passes(types, e.type)) continue;
      if (events.length === limit) return { events, lastEventId: events[limit - 1].id, hasMore: true };
      events.push(e);
    }
    return { events, lastEventId: this.top, hasMore: false };
  }

  private async fill(): Promise<void> {
    const from = this.top;
    const to = this.dispatchedId();
    const { rows } = (await this.knex.raw(FILL_SQL, [from, to, this.capacity])) as { rows: WindowRow[] };
    const pruned = rows[0]?.pruned_through;
    if (pruned === undefined) throw new Error('event_log_state is missing its row; migrations did not run');
    const fresh = rows
      .filter((r): r is WindowRow & EventRow => r.id !== null)
      .reverse()
      .map(toRecord);
    if (fresh.length === this.capacity) {
      // The read may have stopped short of `from`: what it returned is complete only from its first id.
      this.events = fresh;
      this.floor = fresh[0].id;
    } else {
      this.events.push(...fresh);
    }
    this.top = to;
    if (compareIds(pruned, this.floor!) > 0) this.floor = pruned;
    let drop = this.firstAfter(this.floor!);
    if (this.events.length - drop > this.capacity) {
      drop = this.events.length - this.capacity;
      this.floor = this.events[drop - 1].id;
    }
    if (drop > 0) this.events = this.events.slice(drop);
  }

  /** Index of the first held event with an id above `id`. */
  private firstAfter(id: string): number {
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareIds(this.events[mid].id, id) > 0) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
