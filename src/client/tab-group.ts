import type { ConnectionState, EventEnvelope } from './types.js';

/** What the tabs of one user in one browser say to each other over their BroadcastChannel. */
export type GroupMessage =
  /** A tab joined (or answers a new leader): these are the types it listens to. */
  | { k: 'hello'; types: string[] }
  | { k: 'types'; types: string[] }
  /** A follower came back to the foreground: the leader should check its stream. */
  | { k: 'check'; force: boolean }
  | { k: 'leader' }
  /** The leader's state and cursor: on every change and in answer to hello. */
  | { k: 'sync'; state: ConnectionState; reason: string; lastEventId: string | null }
  /** `prev`: the leader's cursor before this event or move, so a follower can tell it has a gap (tab-follower.ts). */
  | { k: 'event'; prev: string | null; e: EventEnvelope }
  | { k: 'cursor'; prev: string | null; lastEventId: string }
  | { k: 'reset'; lastEventId: string };

export function canShareAcrossTabs(): boolean {
  return typeof BroadcastChannel === 'function' && typeof navigator !== 'undefined' && typeof navigator.locks?.request === 'function';
}

/**
 * The tabs of one user: whoever holds the Web Lock `name` is the leader and holds the only
 * stream; the others queue for the lock. The browser releases a lock when its tab closes or
 * crashes, so the next tab in the queue takes over without anyone having to notice the death.
 */
export class TabGroup {
  private readonly channel: BroadcastChannel;
  private readonly abort = new AbortController();
  private release: (() => void) | null = null;

  constructor(
    private readonly name: string,
    private readonly onLead: () => void,
    onMessage: (m: GroupMessage) => void,
  ) {
    this.channel = new BroadcastChannel(name);
    this.channel.onmessage = (ev: MessageEvent<GroupMessage>) => onMessage(ev.data);
  }

  join(): void {
    navigator.locks
      .request(this.name, { signal: this.abort.signal }, () => {
        if (this.abort.signal.aborted) return undefined;
        this.onLead();
        // Held until leave() (or until the tab goes away).
        return new Promise<void>((resolve) => (this.release = resolve));
      })
      .catch(() => undefined); // AbortError: we left before our turn came
  }

  post(m: GroupMessage): void {
    this.channel.postMessage(m);
  }

  leave(): void {
    this.abort.abort();
    this.release?.();
    this.release = null;
    this.channel.close();
  }
}
