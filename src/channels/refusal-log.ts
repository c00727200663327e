import type { Logger } from '../logger';
import type { DeliveryChannel } from '../contract/vocabulary';

/** One retryable refusal: the provider did not take this delivery for now. */
export interface Refusal {
  deliveryId: string;
  notificationId: string;
  notifiedAt: Date;
  attempts: number;
  code: string;
  message: string;
  /** Whether the delivery waits for another attempt (false: its attempts ran out). */
  willRetry: boolean;
}

interface Outage {
  since: Date;
  lastCode: string;
  lastMessage: string;
  refused: number;
  refusedSinceSummary: number;
  summarizedAt: Date;
  /** Deliveries of this instance waiting for a retry on this channel, and when each was notified. */
  waiting: Map<string, Date>;
}

/**
 * What the log says while a channel's provider refuses sends for now. A provider that is down
 * refuses every attempt, and a backlog makes thousands of attempts: one line each would bury
 * everything else. So: the first refusal per channel at warn with its code; then at most one
 * summary line per channel per interval (how many were refused, how many wait for a retry and
 * the oldest of them); and one line when the channel takes a send again. A delivery that runs
 * out of attempts still gets its own error line from the dispatcher.
 */
export class RefusalLog {
  private readonly outages = new Map<DeliveryChannel, Outage>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  refused(channel: DeliveryChannel, r: Refusal, now: Date): void {
    let o = this.outages.get(channel);
    if (!o) {
      o = { since: now, lastCode: r.code, lastMessage: r.message, refused: 0, refusedSinceSummary: 0, summarizedAt: now, waiting: new Map() };
      this.outages.set(channel, o);
      this.logger.warn(
        {
          code: r.code,
          channel,
          deliveryId: r.deliveryId,
          notificationId: r.notificationId,
          attempts: r.attempts,
          err: r.message,
          summaryEveryS: this.intervalMs / 1000,
        },
        'the provider refused a send for now; it is tried again later, and further refusals on this channel are summarized until it takes one',
      );
    } else o.refusedSinceSummary++;
    o.refused++;
    o.lastCode = r.code;
    o.lastMessage = r.message;
    if (r.willRetry) o.waiting.set(r.deliveryId, r.notifiedAt);
    else o.waiting.delete(r.deliveryId);
  }

  /** The provider took a send: the end of any outage on this channel. */
  accepted(channel: DeliveryChannel, now: Date): void {
    const o = this.outages.get(channel);
    if (!o) return;
    this.outages.delete(channel);
    this.logger.warn(
      { code: 'CHANNEL_RECOVERED', channel, refused: o.refused, refusingForS: Math.round((now.getTime() - o.since.getTime()) / 1000), waiting: o.waiting.size },
      'the provider takes sends on this channel again; deliveries waiting for a retry go at their next attempt',
    );
  }

  /** A delivery ended another way (failed for good, skipped): it no longer waits. */
  settled(channel: DeliveryChannel, deliveryId: string): void {
    this.outages.get(channel)?.waiting.delete(deliveryId);
  }

  /** Logs each channel's summary whose interval has passed and that has refusals to report. */
  summarize(now: Date): void {
    for (const [channel, o] of this.outages) {
      if (!o.refusedSinceSummary || now.getTime() - o.summarizedAt.getTime() < this.intervalMs) continue;
      let oldest: Date | null = null;
      for (const at of o.waiting.values()) if (!oldest || at < oldest) oldest = at;
      this.logger.warn(
        {
          code: 'CHANNEL_REFUSING',
          channel,
          lastCode: o.lastCode,
          err: o.lastMessage,
          refused: o.refusedSinceSummary,
          overS: Math.round((now.getTime() - o.summarizedAt.getTime()) / 1000),
          refusingForS: Math.round((now.getTime() - o.since.getTime()) / 1000),
          waiting: o.waiting.size,
          oldestWaitingSince: oldest?.toISOString() ?? null,
        },
        'the provider is still refusing sends on this channel',
      );
      o.refusedSinceSummary = 0;
      o.summarizedAt = now;
    }
  }
}
