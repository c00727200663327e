import type { Knex } from 'knex';
import type { Logger } from '../logger';
import { beat, forgetInstance, markGone, markLive } from './presence-repository';

export interface StreamPresenceOptions {
  /** How often the users whose streams came or went on this instance are written. */
  flushMs: number;
  /** How long this instance's rows count without a heartbeat; it beats every third of this. */
  ttlMs: number;
}

/**
 * This instance's part of `stream_presence`: which users are live here (a stream open, or a long
 * poll held), for the dispatchers of every instance (a user live on B gets no push from A). Off
 * the request's path: a user's first stream or held poll here, or their last one ending, marks
 * them, and the marked users are written together on a timer with their state at that moment. The rows count while
 * this instance's heartbeat is current, so a crash needs no clean-up to stop them counting.
 */
export class StreamPresence {
  private readonly marked = new Set<string>();
  private timers: NodeJS.Timeout[] = [];
  private flushing: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly knex: Knex,
    private readonly instanceId: string,
    /** Whether the user holds a stream or a long poll on this instance now. */
    private readonly isStreaming: (userId: string) => boolean,
    private readonly logger: Logger,
    private readonly o: StreamPresenceOptions = { flushMs: 1_000, ttlMs: 45_000 },
  ) {}

  async start(): Promise<void> {
    // A restart under the same INSTANCE_ID starts with no streams.
    await forgetInstance(this.knex, this.instanceId, false);
    await this.beat();
    const every = (ms: number, fn: () => Promise<void>) => {
      const t = setInterval(
        () => void fn().catch((err) => this.logger.warn({ code: 'PRESENCE_WRITE_FAILED', err }, 'stream presence not written; trying again')),
        ms,
      );
      t.unref();
      this.timers.push(t);
    };
    every(this.o.flushMs, () => this.flush());
    every(Math.max(1, Math.floor(this.o.ttlMs / 3)), () => this.beat());
  }

  /** The user's first stream here opened, or their last one closed. */
  changed(userId: string): void {
    this.marked.add(userId);
  }

  /** Writes the marked users' presence now (also what the timer does). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await this.flushing.catch(() => undefined);
    await forgetInstance(this.knex, this.instanceId, true);
  }

  private async write(): Promise<void> {
    if (this.stopped || this.marked.size === 0) return;
    const users = [...this.marked];
    this.marked.clear();
    const here = users.filter((u) => this.isStreaming(u));
    const gone = users.filter((u) => !this.isStreaming(u));
    try {
      if (here.length) await markLive(this.knex, this.instanceId, here);
      if (gone.length) await markGone(this.knex, this.instanceId, gone);
    } catch (err) {
      for (const u of users) this.marked.add(u);
      throw err;
    }
  }

  private async beat(): Promise<void> {
    if (this.stopped) return;
    await beat(this.knex, this.instanceId, this.o.ttlMs);
  }
}
