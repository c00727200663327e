import { Role } from '../contract/vocabulary';
import type { EventRecord } from '../events/event-types';
import type { StreamSubscriber } from './stream-subscriber';

export interface StreamCounts {
  total: number;
  byRole: Record<string, number>;
  users: number;
}

function sameAudience(a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((c, i) => c === b[i]));
}

/**
 * The in-process index of who is listening where: one set of streams per channel (`user:<id>`,
 * `role:<role>`, `all`), created on first join and dropped when empty, so memory follows open
 * streams. It only decides *who* gets an event; writing is the subscriber's job.
 */
export class ChannelRegistry {
  private readonly channels = new Map<string, Set<StreamSubscriber>>();
  private readonly subscribers = new Set<StreamSubscriber>();
  private readonly streamsPerUser = new Map<string, number>();
  /** Told when a user's first stream here opens or their last one closes (stream presence). */
  onUserChange: ((userId: string) => void) | null = null;

  /**
   * Adds the stream to its channels, unless its user already holds `max` open streams. Synchronous,
   * so two concurrent connects cannot both take the last slot.
   */
  join(subscriber: StreamSubscriber, max: number): boolean {
    const userId = subscriber.principal.userId;
    const open = this.streamsPerUser.get(userId) ?? 0;
    if (open >= max) return false;
    this.streamsPerUser.set(userId, open + 1);
    if (open === 0) this.onUserChange?.(userId);
    this.subscribers.add(subscriber);
    for (const name of subscriber.channels) {
      let channel = this.channels.get(name);
      if (!channel) this.channels.set(name, (channel = new Set()));
      channel.add(subscriber);
    }
    return true;
  }

  /** Takes a stream out of every channel and gives its user's slot back; once per joined stream. */
  leave(subscriber: StreamSubscriber): void {
    if (!this.subscribers.delete(subscriber)) return;
    const userId = subscriber.principal.userId;
    const left = (this.streamsPerUser.get(userId) ?? 1) - 1;
    if (left > 0) this.streamsPerUser.set(userId, left);
    else {
      this.streamsPerUser.delete(userId);
      this.onUserChange?.(userId);
    }
    for (const name of subscriber.channels) {
      const channel = this.channels.get(name);
      if (channel?.delete(subscriber) && channel.size === 0) this.channels.delete(name);
    }
  }

  /**
   * Hands consecutive events (in id order) to every stream on any of their channels, once per
   * stream; returns how many streams each reached. A run of events with the same audience (an
   * announcement and its notification, a booking change and its notifications) goes to each
   * stream in one call, so the stream writes them in one piece.
   */
  dispatch(events: readonly EventRecord[]): number[] {
    const reached: number[] = [];
    for (let i = 0; i < events.length;) {
      let j = i + 1;
      while (j < events.length && sameAudience(events[j].audience, events[i].audience)) j++;
      const run = i === 0 && j === events.length ? events : events.slice(i, j);
      const n = this.dispatchRun(run);
      for (; i < j; i++) reached.push(n);
    }
    return reached;
  }

  private dispatchRun(run: readonly EventRecord[]): number {
    const audience = run[0].audience;
    if (audience.length === 1) {
      // One channel (the usual case): its streams are distinct already, no set to build.
      const channel = this.channels.get(audience[0]);
      if (!channel) return 0;
      // A delivery can end a stream, but it leaves the channel only on its response's 'close',
      // after this loop.
      for (const s of channel) s.deliver(run);
      return channel.size;
    }
    const targets = new Set<StreamSubscriber>();
    for (const name of audience) {
      const channel = this.channels.get(name);
      if (channel) for (const s of channel) targets.add(s);
    }
    for (const t of targets) t.deliver(run);
    return targets.size;
  }

  /** Whether the user has a stream open on this instance. */
  hasUser(userId: string): boolean {
    return this.streamsPerUser.has(userId);
  }

  all(): IterableIterator<StreamSubscriber> {
    return this.subscribers.values();
  }

  counts(): StreamCounts {
    const byRole: Record<string, number> = {};
    for (const role of Role.options) byRole[role] = this.channels.get(`role:${role}`)?.size ?? 0;
    return { total: this.subscribers.size, byRole, users: this.streamsPerUser.size };
  }
}
