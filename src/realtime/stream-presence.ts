import type { Knex } from 'knex';
import type { Logger } from '../logger';

export interface StreamPresenceOptions {
  /** How often the users whose streams came or went on this instance are written. */
  flushMs: number;
  /** How long this instance's rows count without a heartbeat; it beats every third of this. */
  ttlMs: number;
}

/** How long a dead instance's rows stay before any instance deletes them. */
const FORGET_DEAD_AFTER = "interval '1 hour'";

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
    await this.knex('stream_presence').where({ instance_id: this.instanceId }).delete();
    await this.beat();
    const every = (ms: number, fn: () => Promise<void>) => {
      const t = setInterval(() => void fn().catch((err) => this.logger.warn({ code: 'PRESENCE_WRITE_FAILED', err }, 'stream presence not written; trying again')), ms);
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
    await this.knex('stream_presence').where({ instance_id: this.instanceId }).delete();
    await this.knex('instance_heartbeats').where({ instance_id: this.instanceId }).delete();
  }

  private async write(): Promise<void> {
    if (this.stopped || this.marked.size === 0) return;
    const users = [...this.marked];
    this.marked.clear();
    const here = users.filter((u) => this.isStreaming(u));
    const gone = users.filter((u) => !this.isStreaming(u));
    try {
      if (here.length) {
        await this.knex.raw(
          'INSERT INTO stream_presence (user_id, instance_id) SELECT unnest(?::text[]), ? ON CONFLICT DO NOTHING',
          [here, this.instanceId],
        );
      }
      if (gone.length) await this.knex.raw('DELETE FROM stream_presence WHERE instance_id = ? AND user_id = ANY(?::text[])', [this.instanceId, gone]);
    } catch (err) {
      for (const u of users) this.marked.add(u);
      throw err;
    }
  }

  private async beat(): Promise<void> {
    if (this.stopped) return;
    await this.knex.raw(
      `INSERT INTO instance_heartbeats (instance_id, expires_at) VALUES (?, now() + ? * interval '1 millisecond')
       ON CONFLICT (instance_id) DO UPDATE SET expires_at = excluded.expires_at`,
      [this.instanceId, this.o.ttlMs],
    );
    await this.knex.raw(
      `DELETE FROM stream_presence WHERE instance_id IN (SELECT instance_id FROM instance_heartbeats WHERE expires_at < now() - ${FORGET_DEAD_AFTER})`,
    );
    await this.knex.raw(`DELETE FROM instance_heartbeats WHERE expires_at < now() - ${FORGET_DEAD_AFTER}`);
  }
}
