import type { Api } from './api.js';
import { backoffDelay } from './backoff.js';
import { isAfter, isEventId } from './event-ids.js';
import type { GroupMessage } from './tab-group.js';
import type { EventEnvelope } from './types.js';

/** What the leader hands a follower that moves its cursor (see GroupMessage for each one's meaning). */
export type LeaderNews = Extract<GroupMessage, { k: 'event' | 'cursor' | 'sync' | 'reset' }>;

export interface FollowerHooks {
  event(e: EventEnvelope): void;
  /** The page must refetch its state (the log could not be resumed from the cursor). */
  reset(): void;
}

/** Pages of one look at the log; a gap longer than this many pages is looked at again from where it got to. */
const MAX_PAGES = 100;

/**
 * A follower tab's cursor. The leader shares each event with the cursor it had before it, so a
 * follower knows what it was handed covers everything after its own cursor, or that there is a gap:
 * a tab whose state (GET /api/sync) was read before the leader reached where it is now was not
 * there to be handed what came between. It then reads the gap from the log itself
 * (GET /api/events?after=<cursor>), holding back what the leader hands it meanwhile, and applies
 * that afterwards, dropping what the log already gave: nothing missed, nothing twice, in id order.
 */
export class TabFollower {
  private readonly waiting: LeaderNews[] = [];
  private filling = false;
  private failures = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private abort: AbortController | null = null;

  constructor(
    private readonly api: Api,
    private readonly hooks: FollowerHooks,
    /** Null: the page has no state to be consistent with, so it starts wherever the leader is. */
    public cursor: string | null,
  ) {}

  take(m: LeaderNews): void {
    if (m.k === 'reset') return this.reset(m.lastEventId);
    if (this.filling) {
      this.waiting.push(m);
      return;
    }
    this.apply(m);
  }

  /** This tab stops following (it leads now, or stops): a gap being read is left to whoever carries on from `cursor`. */
  stop(): void {
    this.filling = false;
    this.waiting.length = 0;
    clearTimeout(this.retryTimer);
    this.abort?.abort();
    this.abort = null;
  }

  private apply(m: Exclude<LeaderNews, { k: 'reset' }>): void {
    const to = m.k === 'event' ? m.e?.id : m.lastEventId;
    if (!isEventId(to)) return;
    // Where what the leader hands us begins: without a `prev`, nothing says it begins at our cursor.
    const from = m.k === 'sync' ? to : isEventId(m.prev) ? m.prev : to;
    if (this.cursor !== null && isAfter(from, this.cursor)) {
      this.waiting.unshift(m);
      return this.fill();
    }
    if (!isAfter(to, this.cursor)) return;
    this.cursor = to;
    if (m.k === 'event') this.hooks.event(m.e);
  }

  private reset(lastEventId: string): void {
    if (!isEventId(lastEventId)) return;
    // What was held back or being read is older than the reset: the page refetches it all.
    this.stop();
    this.cursor = lastEventId;
    this.hooks.reset();
  }

  /** Reads the log after our cursor until it is at its end, then applies what waited meanwhile. */
  private fill(): void {
    this.filling = true;
    const abort = (this.abort = new AbortController());
    void (async () => {
      try {
        for (let page = 0; page < MAX_PAGES; page++) {
          const r = await this.api.longPoll(this.cursor!, { wait: 0, signal: abort.signal });
          if (abort.signal.aborted) return;
          if (r.reset) {
            this.failures = 0;
            const rest = this.waiting.splice(0);
            this.reset(r.lastEventId);
            // The leader's news after the reset still counts; what the reset covers is dropped.
            return this.applyAll(rest);
          }
          for (const e of r.events) {
            if (!isEventId(e?.id) || !isAfter(e.id, this.cursor)) continue;
            this.cursor = e.id;
            this.hooks.event(e);
          }
          if (isEventId(r.lastEventId) && isAfter(r.lastEventId, this.cursor)) this.cursor = r.lastEventId;
          if (!r.hasMore) break;
        }
        this.failures = 0;
        this.filling = false;
        this.abort = null;
        this.applyAll(this.waiting.splice(0));
      } catch {
        if (abort.signal.aborted) return;
        // Still filling: the leader's news keeps waiting; the log is asked again after a backoff.
        this.failures++;
        this.retryTimer = setTimeout(() => this.filling && this.fill(), backoffDelay(this.failures, { initialMs: 1_000, maxMs: 30_000 }));
      }
    })();
  }

  /** Applies news in order; one that finds another gap starts a new read, and the rest waits behind it. */
  private applyAll(news: LeaderNews[]): void {
    for (let i = 0; i < news.length; i++) {
      if (this.filling) {
        this.waiting.push(...news.slice(i));
        return;
      }
      this.take(news[i]);
    }
  }
}
