import type { Knex } from 'knex';
import type { Logger } from '../logger';
import type { ChannelSender } from './channel';
import { SendRefused } from './channel';
import {
  claimDue,
  contactsOf,
  lockCursorAndRead,
  recordDeliveriesAndAdvance,
  settleDeliveries,
  type ClaimedBatch,
  type ClaimedDelivery,
  type Outcome,
  type Settlement,
} from './delivery-repository';
import { planDeliveries, type PlannedNotification } from './delivery-plan';
import { cancelledByReading, type EscalationDelays } from './policies';
import { DeliveryChannel } from '../contract/vocabulary';
import { RefusalLog } from './refusal-log';

/** Whether event id `a` comes after `b`: decimal bigints without leading zeros, compared without parsing (this runs per event). */
const isAfter = (a: string, b: string): boolean => (a.length === b.length ? a > b : a.length > b.length);

/** The channels whose deliveries reading the notification first cancels, as the claim checks them. */
const CANCELLED_BY_READING = DeliveryChannel.options.filter(cancelledByReading);

export interface DispatcherOptions {
  delays: EscalationDelays;
  pollMs: number;
  maxAttempts: number;
  /** Events read, and deliveries claimed, per step. */
  batch?: number;
  /** How long a claimed send may take before another instance counts it interrupted. */
  leaseMs?: number;
  /** The first retry's wait; each further one doubles it. */
  retryBaseMs?: number;
  /** The longest a tick goes without looking for due deliveries (others' retries, interrupted sends). */
  sweepMs?: number;
  /** Sends in flight at once; their outcomes are recorded this many at a time. */
  sendConcurrency?: number;
  /** While a channel's provider refuses sends, at most one summary line per channel this often. */
  refusalLogMs?: number;
}

export interface SendRecorder {
  /** One delivery ended (`sent`, `failed`, `skipped`) or was put back (`retried`). */
  recordSend(channel: DeliveryChannel, outcome: 'sent' | 'failed' | 'skipped' | 'retried', notifiedAt: Date, now: Date): void;
}

/**
 * Sends notifications beyond the tab. It reads the log's `notification.created` events behind
 * its own cursor in PostgreSQL (after they commit, in batches, on a timer or a poke: never on the
 * publishing path), records one delivery per notification, recipient and channel, and sends each
 * when it is due.
 *
 * Its database work is a few statements per batch, not per delivery or per event: one transaction
 * reads a batch of events behind the locked cursor, writes their deliveries and moves the cursor;
 * one statement claims a batch of due deliveries (and settles those that need no send); outcomes
 * are recorded a chunk per statement.
 *
 * At most once per notification and channel: the unique row is claimed (SKIP LOCKED) and marked
 * `sending` in a committed statement before the provider is called. If the process dies between
 * the provider's accept and our record, the row stays `sending`; once its lease has run out it is
 * marked failed with SEND_OUTCOME_UNKNOWN and never sent again. Only a provider's explicit refusal
 * (SendRefused) is retried, with backoff.
 */
export class Dispatcher {
  private readonly batch: number;
  private readonly leaseMs: number;
  private readonly retryBaseMs: number;
  private readonly refusals: RefusalLog;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  /** Where the cursor was at this instance's last read; another instance may have moved it since. */
  private seenCursor: string | null = null;
  /** The newest notification event this instance has heard of. */
  private latestNotification: string | null = null;
  /** When a delivery (of this or another instance) may next be due: the sweep's latest check. */
  private nextCheckAt = new Date(0);

  constructor(
    private readonly knex: Knex,
    private readonly senders: ReadonlyMap<DeliveryChannel, ChannelSender>,
    /**
     * Whether the user has a live stream open on this instance, known at once; streams on other
     * instances are known from stream_presence, within its flush interval.
     */
    private readonly hasLiveStream: (userId: string) => boolean,
    private readonly recorder: SendRecorder,
    private readonly logger: Logger,
    private readonly o: DispatcherOptions,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.batch = o.batch ?? 200;
    this.leaseMs = o.leaseMs ?? 60_000;
    this.retryBaseMs = o.retryBaseMs ?? 30_000;
    this.refusals = new RefusalLog(logger, o.refusalLogMs ?? 30_000);
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.o.pollMs);
    this.timer.unref();
    this.tick();
  }

  /**
   * A notification event with this id has committed (the relay saw it, from any instance). The
   * next tick records its deliveries; until one arrives, a tick reads nothing.
   */
  noteNotification(eventId: string): void {
    const id = String(eventId);
    if (this.latestNotification === null || isAfter(id, this.latestNotification)) this.latestNotification = id;
  }

  /** Runs only when there is work it knows of: a notification not yet read, or a delivery due. */
  private tick(): void {
    if (this.unread() || this.clock() >= this.nextCheckAt) this.poke();
  }

  private unread(): boolean {
    return this.seenCursor === null || (this.latestNotification !== null && isAfter(this.latestNotification, this.seenCursor));
  }

  /** Run soon (coalesced with a run in progress). */
  poke(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = new Promise<void>((resolve) => setImmediate(resolve))
      .then(async () => {
        do {
          this.again = false;
          await this.pass().catch((err) => this.logger.error({ code: 'DISPATCH_FAILED', err }, 'delivery dispatch failed; will retry'));
        } while (this.again && !this.stopped);
      })
      .finally(() => {
        this.running = null;
      });
  }

  /** Resolves when no run is in progress (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.idle();
  }

  /** One pass at `now`: record deliveries for new notifications, then send what is due. */
  async runOnce(now: Date = this.clock()): Promise<void> {
    while ((await this.ingest()) === this.batch && !this.stopped);
    await this.sendDue(now);
  }

  /**
   * The timer's pass: only the work it knows of. Events are read when the relay has reported one
   * past the cursor (or at the sweep); deliveries are claimed when one is due by what this instance
   * recorded or put back for a retry (or at the sweep, for other instances' and interrupted ones).
   */
  private async pass(): Promise<void> {
    const now = this.clock();
    const sweep = now >= this.nextCheckAt;
    if (this.unread() || sweep) while ((await this.ingest()) === this.batch && !this.stopped);
    if (now >= this.nextCheckAt) await this.sendDue(now);
  }

  /** Records the deliveries of the next batch of notifications; returns how many events it read. */
  async ingest(): Promise<number> {
    const read = await this.knex.transaction(async (trx) => {
      const { cursor, events } = await lockCursorAndRead(trx, this.batch);
      // Another instance holds the cursor: it is recording these notifications now.
      if (cursor === null) return { count: 0, last: null };
      if (!events.length) return { count: 0, last: cursor };
      const personal: PlannedNotification[] = [];
      for (const e of events) {
        if (e.type !== 'notification.created') continue;
        const n = e.payload?.notification;
        // Shared notifications (to a role or everyone) are one row read by many; they stay in-app.
        if (!n || e.audience.length !== 1 || !e.audience[0].startsWith('user:')) continue;
        personal.push({
          id: n.id,
          userId: e.audience[0].slice('user:'.length),
          type: n.type,
          silent: n.silent === true,
          notifiedAt: new Date(n.createdAt),
        });
      }
      const contacts = await contactsOf(trx, [...new Set(personal.map((p) => p.userId))]);
      const planned = planDeliveries(personal, contacts, new Set(this.senders.keys()), this.o.delays);
      const last = events[events.length - 1].id;
      await recordDeliveriesAndAdvance(trx, planned, last);
      for (const d of planned) if (d.status === 'queued' && d.dueAt < this.nextCheckAt) this.nextCheckAt = d.dueAt;
      return { count: events.length, last };
    });
    // Only once committed: a rolled-back read is read again.
    if (read.last !== null) this.seenCursor = read.last;
    return read.count;
  }

  /** Sends (or skips) every delivery due at `now`, a batch at a time. */
  async sendDue(now: Date): Promise<void> {
    let next = new Date(now.getTime() + (this.o.sweepMs ?? 30_000));
    for (;;) {
      const batch = await claimDue(this.knex, now, { limit: this.batch, leaseMs: this.leaseMs, cancelledByReading: CANCELLED_BY_READING });
      if (batch.abandoned) this.logger.warn({ code: 'SEND_OUTCOME_UNKNOWN', deliveries: batch.abandoned }, 'sends interrupted by a crash are not repeated');
      if (batch.nextDue && batch.nextDue < next) next = batch.nextDue;
      const retryAt = await this.deliverAll(batch, now);
      if (retryAt && retryAt < next) next = retryAt;
      if (batch.toSend.length + batch.skipped.length < this.batch || this.stopped) break;
    }
    this.refusals.summarize(now);
    this.nextCheckAt = next;
  }

  /**
   * Counts what the claim skipped; skips what else needs no send; sends the rest,
   * `sendConcurrency` at a time, and records their outcomes a chunk per statement. The
   * dispatcher's statements then stay a few per batch instead of one per delivery, and it holds at
   * most a couple of the pool's connections, which the publishing path shares. Returns the
   * earliest retry it put back, if any.
   */
  private async deliverAll(batch: ClaimedBatch, now: Date): Promise<Date | null> {
    for (const d of batch.skipped) this.recorder.recordSend(d.channel, 'skipped', new Date(d.notified_at), now);
    let pending: Array<{ d: ClaimedDelivery; s: Settlement }> = [];
    const toSend: ClaimedDelivery[] = [];
    for (const d of batch.toSend) {
      const reason = this.skipReason(d);
      if (reason) pending.push({ d, s: { id: d.id, outcome: { status: 'skipped', reason }, at: now } });
      else toSend.push(d);
    }
    const concurrency = Math.max(1, this.o.sendConcurrency ?? 16);
    let retryAt: Date | null = null;
    let recording = Promise.resolve();
    const flush = () => {
      const chunk = pending;
      pending = [];
      recording = recording.then(() => this.record(chunk));
      return recording;
    };
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, toSend.length) }, async () => {
        while (next < toSend.length) {
          const d = toSend[next++];
          const outcome = await this.send(d, now);
          if (outcome.status === 'queued' && (!retryAt || outcome.dueAt < retryAt)) retryAt = outcome.dueAt;
          // Only now: a flush meanwhile replaced the array.
          pending.push({ d, s: { id: d.id, outcome, at: this.clock() } });
          if (pending.length >= concurrency) await flush();
        }
      }),
    );
    await flush();
    return retryAt;
  }

  /** What the claim could not know: a stream opened on this instance since presence was last written, a channel not configured here. */
  private skipReason(d: ClaimedDelivery): string | null {
    if (d.channel === 'push' && this.hasLiveStream(d.user_id)) return 'a live stream was open';
    if (!this.senders.get(d.channel) || !d.address) return `${d.channel} is not configured`;
    return null;
  }

  /** Records outcomes, then counts them: a rolled-back record is not counted. */
  private async record(settled: ReadonlyArray<{ d: ClaimedDelivery; s: Settlement }>): Promise<void> {
    if (!settled.length) return;
    await settleDeliveries(
      this.knex,
      settled.map((x) => x.s),
    );
    for (const { d, s } of settled) {
      const outcome = s.outcome.status === 'queued' ? 'retried' : s.outcome.status;
      this.recorder.recordSend(d.channel, outcome, new Date(d.notified_at), s.at);
    }
  }

  /** One send; what became of it, as the provider said. */
  private async send(d: ClaimedDelivery, now: Date): Promise<Outcome> {
    try {
      const { providerRef } = await this.senders.get(d.channel)!.send({
        deliveryId: d.id,
        notificationId: d.notification_id,
        userId: d.user_id,
        type: d.type,
        title: d.title,
        body: d.body,
        data: d.data ?? {},
        address: d.address!,
        push: d.push_subscriptions ? { role: d.role, subscriptions: d.push_subscriptions } : undefined,
      });
      this.refusals.accepted(d.channel, now);
      return { status: 'sent', providerRef };
    } catch (err) {
      const log = { deliveryId: d.id, notificationId: d.notification_id, channel: d.channel, attempts: d.attempts };
      if (err instanceof SendRefused && err.retryable) {
        const willRetry = d.attempts < this.o.maxAttempts;
        this.refusals.refused(
          d.channel,
          {
            deliveryId: d.id,
            notificationId: d.notification_id,
            notifiedAt: new Date(d.notified_at),
            attempts: d.attempts,
            code: err.code,
            message: err.message,
            willRetry,
          },
          now,
        );
        if (willRetry)
          return { status: 'queued', dueAt: new Date(now.getTime() + this.retryBaseMs * 2 ** (d.attempts - 1)), code: err.code, reason: err.message };
      } else this.refusals.settled(d.channel, d.id);
      const code = err instanceof SendRefused ? err.code : 'SEND_OUTCOME_UNKNOWN';
      // Anything but an explicit refusal may have happened after the provider took the message.
      const reason = err instanceof SendRefused ? err.message : 'the send failed in a way that may have reached the provider; not repeated';
      this.logger.error({ ...log, code, err: err instanceof Error ? err.message : String(err) }, 'a delivery failed');
      return { status: 'failed', code, reason };
    }
  }
}
