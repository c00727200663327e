import { createChannel, type Channel, type Session } from 'better-sse';
import type { EventRecord } from '../events/event-types';
import type { StreamSubscriber } from './stream-subscriber';

interface SessionState {
  [key: string]: unknown;
  subscriber: StreamSubscriber;
}

export interface StreamCounts {
  total: number;
  byRole: Record<string, number>;
  users: number;
}

/**
 * The in-process index of who is listening where: one better-sse channel per `user:<id>`,
 * `role:<role>` and `all`. It only decides *who* gets an event; writing is the subscriber's job.
 * Channels are created on first join and dropped when empty, so memory follows open sessions.
 */
export class ChannelRegistry {
  private readonly channels = new Map<string, Channel<Record<string, unknown>, SessionState>>();
  private readonly subscribers = new Set<StreamSubscriber>();
  private readonly streamsPerUser = new Map<string, number>();

  /**
   * Takes one of the user's stream slots before the stream is set up (synchronously, so two
   * concurrent connects cannot both take the last one). Returns the release, or null when full.
   */
  reserveStream(userId: string, max: number): (() => void) | null {
    const open = this.streamsPerUser.get(userId) ?? 0;
    if (open >= max) return null;
    this.streamsPerUser.set(userId, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.streamsPerUser.get(userId) ?? 1) - 1;
      if (left > 0) this.streamsPerUser.set(userId, left);
      else this.streamsPerUser.delete(userId);
    };
  }

  join(subscriber: StreamSubscriber): void {
    const session = subscriber.session as unknown as Session<SessionState>;
    session.state.subscriber = subscriber;
    this.subscribers.add(subscriber);
    session.once('disconnected', () => this.subscribers.delete(subscriber));
    for (const name of subscriber.channels) {
      let channel = this.channels.get(name);
      if (!channel) {
        channel = createChannel<Record<string, unknown>, SessionState>();
        const created = channel;
        created.on('session-deregistered', () => {
          if (created.sessionCount === 0 && this.channels.get(name) === created) this.channels.delete(name);
        });
        this.channels.set(name, channel);
      }
      // better-sse deregisters the session by itself when it disconnects.
      channel.register(session);
    }
  }

  /** Hands the event to every session on any of its channels, once per session. */
  dispatch(event: EventRecord): number {
    if (event.audience.length === 1) {
      // One channel (the usual case): its sessions are distinct already, no set to build.
      const sessions = this.channels.get(event.audience[0])?.activeSessions ?? [];
      for (const session of sessions) session.state.subscriber.deliver(event);
      return sessions.length;
    }
    const targets = new Set<StreamSubscriber>();
    for (const name of event.audience) {
      const channel = this.channels.get(name);
      if (!channel) continue;
      for (const session of channel.activeSessions) targets.add(session.state.subscriber);
    }
    for (const t of targets) t.deliver(event);
    return targets.size;
  }

  all(): IterableIterator<StreamSubscriber> {
    return this.subscribers.values();
  }

  counts(): StreamCounts {
    const byRole: Record<string, number> = { client: 0, provider: 0, admin: 0 };
    let users = 0;
    for (const [name, channel] of this.channels) {
      if (name.startsWith('role:')) byRole[name.slice(5)] = channel.sessionCount;
      else if (name.startsWith('user:')) users++;
    }
    return { total: this.subscribers.size, byRole, users };
  }
}
