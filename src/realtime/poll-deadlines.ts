/** Something that expires: a held poll's place in its deadline list. */
export interface Expiring {
  /** performance.now() at which it expires. */
  deadline: number;
  /** Links of its list; null when first, last, or in no list. */
  prevExpiring: Expiring | null;
  nextExpiring: Expiring | null;
  /** The list it is in, or null. */
  expiringIn: DeadlineList | null;
  expire(): void;
}

interface DeadlineList {
  waitMs: number;
  head: Expiring | null;
  tail: Expiring | null;
  timer: NodeJS.Timeout | null;
}

/**
 * The deadlines of held polls, without a timer each. Polls that wait equally long expire in the
 * order they were held, so each wait length keeps one linked list in deadline order and one
 * timer, set for its head: adding and removing are O(1) and hold no timer object per poll. A
 * server sees few wait lengths (most clients ask for POLL_MAX_WAIT_S or more, which is capped to
 * it), so there are few lists.
 */
export class PollDeadlines {
  private readonly lists = new Map<number, DeadlineList>();

  /** `e` expires `waitMs` from now, and not earlier. */
  add(e: Expiring, waitMs: number): void {
    let list = this.lists.get(waitMs);
    if (!list) this.lists.set(waitMs, (list = { waitMs, head: null, tail: null, timer: null }));
    e.deadline = performance.now() + waitMs;
    e.expiringIn = list;
    e.prevExpiring = list.tail;
    e.nextExpiring = null;
    if (list.tail) list.tail.nextExpiring = e;
    else list.head = e;
    list.tail = e;
    if (!list.timer) this.arm(list);
  }

  /** Takes `e` out of its list, if it is in one. An emptied list's timer is cleared. */
  remove(e: Expiring): void {
    const list = e.expiringIn;
    if (!list) return;
    if (e.prevExpiring) e.prevExpiring.nextExpiring = e.nextExpiring;
    else list.head = e.nextExpiring;
    if (e.nextExpiring) e.nextExpiring.prevExpiring = e.prevExpiring;
    else list.tail = e.prevExpiring;
    e.prevExpiring = e.nextExpiring = e.expiringIn = null;
    // A head removed otherwise leaves the timer as it is: it fires early, finds nothing due, and re-arms.
    if (!list.head && list.timer) {
      clearTimeout(list.timer);
      list.timer = null;
    }
  }

  private arm(list: DeadlineList): void {
    const head = list.head!;
    // Node's timers run on the loop's cached clock, which can trail performance.now(): a timer may
    // come a little early, in which case the head is not due yet and the timer is set again.
    list.timer = setTimeout(() => this.fire(list), Math.max(1, Math.ceil(head.deadline - performance.now())));
    // Held polls keep their sockets, and so the process, alive; the timer need not.
    list.timer.unref();
  }

  private fire(list: DeadlineList): void {
    list.timer = null;
    const now = performance.now();
    while (list.head && list.head.deadline <= now) {
      const e = list.head;
      this.remove(e);
      e.expire();
    }
    if (list.head && !list.timer) this.arm(list);
  }
}
