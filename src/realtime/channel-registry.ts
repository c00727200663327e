import type { EventRecord } from '../events/event-types';
import type { StreamSubscriber } from './stream-subscriber';

export interface StreamCounts {
  total: number;
  byRole: Record<string, number>;
  users: number;
}

const ROLES = ['client', 'provider', 'admin'] as const;

/**
 * The in-process index of who is listening where: one set of streams per channel (`user:<id>`,
 * `role:<role>`, `all`), created on first join and dropped when empty, so memory follows open
 * streams. It only decides *who* gets an event; writing is the subscriber's job.
 */
export class ChannelRegistry {
  private readonly channels = new Map<string, Set<StreamSubscriber>>();
  private readonly subscribers = new Set<StreamSubscriber>();
  private readonly streamsPerUser = new Map<string, number>();

  /**
   * Adds the stream to its channels, unless its user already holds `max` open streams. Synchronous,
   * so two concurrent connects cannot both take the last slot.
   */
  join(subscriber: StreamSubscriber, max: number): boolean {
    const userId = subscriber.principal.userId;
    const open = this.streamsPerUser.get(userId) ?? 0;
    if (open >= max) return false;
    this.streamsPerUser.set(userId, open + 1);
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
    else this.streamsPerUser.delete(userId);
    for (const name of subscriber.channels) {
      const channel = this.channels.get(name);
      if (channel?.delete(subscriber) && channel.size === 0) this.channels.delete(name);
    }
  }

  /** Hands the event to every stream on any of its channels, once per stream. */
  dispatch(event: EventRecord): number {
    if (event.audience.length === 1) {
      // One channel (the usual case): its streams are distinct already, no set to build.
      const channel = this.channels.get(event.audience[0]);
      if (!channel) return 0;
      // A delivery can end a stream, but it leaves the channel only on its response's 'close',
      // after this loop.
      for (const s of channel) s.deliver(event);
      return channel.size;
    }
    const targets = new Set<StreamSubscriber>();
    for (const name of event.audience) {
      const channel = this.channels.get(name);
      if (channel) for (const s of channel) targets.add(s);
    }
    for (const t of targets) t.deliver(event);
    return targets.size;
  }

  all(): IterableIterator<StreamSubscriber> {
    return this.subscribers.values();
  }

  counts(): StreamCounts {
    const byRole: Record<string, number> = {};
    for (const role of ROLES) byRole[role] = this.channels.get(`role:${role}`)?.size ?? 0;
    return { total: this.subscribers.size, byRole, users: this.streamsPerUser.size };
  }
}
