import type { ChannelName, EventRecord } from '../events/event-types';
import { passes, type TypeFilter } from './type-filter';

/** A long poll waiting for an event: what it listens to, and what to do when one may be there. */
export interface HeldPoll {
  readonly userId: string;
  readonly channels: readonly ChannelName[];
  /** Only events of these types wake it; undefined for all. */
  readonly types: TypeFilter | undefined;
  /** An event it may want was dispatched: look again. */
  wake(): void;
  /** Answer now with what there is (the server is shutting down). */
  release(): void;
}

export interface HeldPollCounts {
  held: number;
  users: number;
}

/**
 * The in-process index of long polls waiting for an event, by channel, like the registry's index
 * of streams. The relay hands it every dispatched run of events (after the streams), so a held
 * poll wakes for exactly what a stream of the same user would receive, whichever instance
 * committed it. It only decides *who* to wake; the poll reads its answer from the poll window.
 */
export class HeldPolls {
  private readonly channels = new Map<string, Set<HeldPoll>>();
  private readonly polls = new Set<HeldPoll>();
  private readonly perUser = new Map<string, number>();
  /** Told when a user's first held poll here arrives or their last one leaves (presence, like streams'). */
  onUserChange?: (userId: string) => void;

  /** Adds the poll, unless its user already holds `max`. Synchronous: no two can take the last slot. */
  hold(poll: HeldPoll, max: number): boolean {
    const open = this.perUser.get(poll.userId) ?? 0;
    if (open >= max) return false;
    this.perUser.set(poll.userId, open + 1);
    if (open === 0) this.onUserChange?.(poll.userId);
    this.polls.add(poll);
    for (const name of poll.channels) {
      let channel = this.channels.get(name);
      if (!channel) this.channels.set(name, (channel = new Set()));
      channel.add(poll);
    }
    return true;
  }

  /** Takes the poll out and gives its user's slot back; once per held poll. */
  leave(poll: HeldPoll): void {
    if (!this.polls.delete(poll)) return;
    const left = (this.perUser.get(poll.userId) ?? 1) - 1;
    if (left > 0) this.perUser.set(poll.userId, left);
    else {
      this.perUser.delete(poll.userId);
      this.onUserChange?.(poll.userId);
    }
    for (const name of poll.channels) {
      const channel = this.channels.get(name);
      if (channel?.delete(poll) && channel.size === 0) this.channels.delete(name);
    }
  }

  /** Wakes, once each, the held polls that events of this run are addressed to and pass their filter. */
  dispatch(events: readonly EventRecord[]): void {
    if (this.polls.size === 0) return;
    const woken = new Set<HeldPoll>();
    for (const e of events) {
      for (const name of e.audience) {
        const channel = this.channels.get(name);
        if (channel) for (const p of channel) if (passes(p.types, e.type)) woken.add(p);
      }
    }
    for (const p of woken) p.wake();
  }

  /** Answers every held poll with what it has (shutdown). */
  releaseAll(): void {
    for (const p of [...this.polls]) p.release();
  }

  /** Whether the user holds a long poll on this instance now. */
  hasUser(userId: string): boolean {
    return this.perUser.has(userId);
  }

  counts(): HeldPollCounts {
    return { held: this.polls.size, users: this.perUser.size };
  }
}
