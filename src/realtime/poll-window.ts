import type { Knex } from 'knex';
import { compareIds, readNewestOf } from '../events/event-log';
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

/**
 * The recent log, every audience, for polls: a poll whose cursor falls inside is answered from
 * memory, so 500 users polling cost no read per request, and a long poll woken by an event answers
 * with it from here rather than reading it back.
 *
 * Invariant: `events` holds every event of the log with an id in (floor, top], in order, and the
 * floor is at or above every retention bound this instance has heard of. It holds because:
 * - the relay hands over each run it dispatches (`append`): every event of the log in (after,
 *   its last id], as the relay dispatches in id order with no gap (outbox-relay.ts). A run that
 *   starts exactly at `top` continues the window; any other (one that came during a read, or
 *   before the first poll) is left out, `top` falls behind the relay, and the next poll reads.
 * - reads (`fill`) are of (top, D] with D the relay's dispatchedId: appends are serialized
 *   (event-log.ts), so at or below D nothing can still commit, and the read sees all that will
 *   ever exist there.
 * - what a read or a run misses was pruned, and pruning raises pruned_through in the same
 *   transaction as the delete; the bound is read in the same statement as the events (the relay's
 *   reads and `fill`), so it covers what they miss, and the floor rises to it (`prunedThrough`).
 *
 * `top` only ever becomes a value of the relay's dispatchedId. The floor also rises to what
 * retention here prunes (told at once), and to what another instance prunes at the relay's next
 * read of the log: within RELAY_POLL_MS, and no later than the first event another instance
 * commits after the prune. A cursor below the floor goes to the database, which answers it
 * exactly: a reset if it was pruned. A cursor pruned elsewhere a moment ago but still above the
 * floor gets the events after it, which the window holds: nothing is skipped; the reset comes a
 * read later.
 *
 * A server that nobody polls neither reads nor holds anything: the window starts at the relay's
 * position at the first poll, so cursors from before then are the database's.
 */
export class PollWindow {
  /** The window is events[head..]: dropping the oldest moves `head`, and the array is cut only now and then. */
  private events: EventRecord[] = [];
  private head = 0;
  private floor: string | null = null;
  private top = '';
  /** The highest retention bound heard of, also before the first poll. */
  private pruned = '0';
  private filling: Promise<void> | null = null;

  constructor(
    private readonly knex: Knex,
    /** The relay's dispatchedId: everything at or below it has committed. */
    private readonly dispatchedId: () => string,
    private readonly capacity = POLL_WINDOW_CAPACITY,
  ) {}

  /**
   * A run the relay dispatched: every event of the log in (after, its last id], in id order. Held
   * at once when it continues the window and no read is under way (whose result would land after it).
   */
  append(after: string, events: readonly EventRecord[]): void {
    if (this.floor === null || this.filling || this.top !== after || events.length === 0) return;
    for (const e of events) this.events.push(e);
    this.top = events[events.length - 1].id;
    this.trim();
  }

  /** Everything at or below `through` was pruned from the log: cursors there are the database's (a reset). */
  prunedThrough(through: string): void {
    if (compareIds(through, this.pruned) <= 0) return;
    this.pruned = through;
    if (this.floor !== null) this.trim();
  }

  /**
   * The page after `after` for these channels, through the newest dispatched event; undefined
   * when the cursor is outside the window (below it, or ahead of this instance's relay: another
   * instance committed what this one has not heard of yet, or a cursor that is not ours).
   * With `types`, only events of those types are returned; the cursor moves as without.
   */
  async page(after: string, channels: readonly ChannelName[], limit: number, types?: TypeFilter): Promise<WindowPage | undefined> {
    const target = this.dispatchedId();
    if (compareIds(after, target) > 0) return undefined;
    if (this.floor === null) {
      this.floor = this.top = target;
      this.trim();
    }
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
    const { events: fresh, prunedThrough: pruned } = await readNewestOf(this.knex, from, to, this.capacity);
    if (fresh.length === this.capacity) {
      // The read may have stopped short of `from`: what it returned is complete only from its first id.
      this.events = fresh;
      this.head = 0;
      this.floor = fresh[0].id;
    } else {
      for (const e of fresh) this.events.push(e);
    }
    this.top = to;
    if (compareIds(pruned, this.pruned) > 0) this.pruned = pruned;
    this.trim();
  }

  /** Raises the floor to the known retention bound, then drops the oldest events beyond capacity. */
  private trim(): void {
    if (compareIds(this.pruned, this.floor!) > 0) this.floor = this.pruned;
    let head = this.firstAfter(this.floor!);
    if (this.events.length - head > this.capacity) {
      head = this.events.length - this.capacity;
      this.floor = this.events[head - 1].id;
    }
    this.head = head;
    // Cut once the dropped part is as large as the window: a copy per `capacity` events, not per run.
    if (head > 0 && (head >= this.capacity || head === this.events.length)) {
      this.events = this.events.slice(head);
      this.head = 0;
    }
  }

  /** Index of the first held event with an id above `id`. */
  private firstAfter(id: string): number {
    let lo = this.head;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareIds(this.events[mid].id, id) > 0) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
