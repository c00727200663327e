import { HttpError, type Api } from './api.js';

export type ReportedMode = 'live' | 'polling' | 'offline';

/** Kept in step with CLIENT_MODE_REPORT_EVERY_MS in src/realtime/client-modes.ts (the server forgets after three missed). */
export const REPORT_EVERY_MS = 60_000;
const RETRY_MS = 5_000;
const MAX_QUEUED = 10;

/**
 * Tells the server what mode this browser is in (POST /api/events/client-mode): every change, in
 * order, with its reason, and the current mode again every REPORT_EVERY_MS so the server can tell
 * a quiet client from a gone one. A report that cannot be sent (offline is the usual reason) waits
 * and goes first once the server answers again, so `offline` arrives late but in its place.
 */
export class ModeReporter {
  private current: { mode: ReportedMode; reason: string } | null = null;
  private readonly queue: Array<{ mode: ReportedMode; reason: string }> = [];
  private sending = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly everyTimer: ReturnType<typeof setInterval>;
  private stopped = false;

  constructor(
    private readonly api: Api,
    private readonly sessionId: string,
    everyMs = REPORT_EVERY_MS,
  ) {
    this.everyTimer = setInterval(() => {
      if (this.current && this.queue.length === 0) this.enqueue(this.current);
    }, everyMs);
  }

  report(mode: ReportedMode, reason: string): void {
    if (this.current?.mode === mode) return;
    this.current = { mode, reason };
    this.enqueue(this.current);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.everyTimer);
    clearTimeout(this.retryTimer);
  }

  private enqueue(r: { mode: ReportedMode; reason: string }): void {
    this.queue.push(r);
    // Past the cap, the oldest transitions matter least; the current mode is always last.
    if (this.queue.length > MAX_QUEUED) this.queue.splice(0, this.queue.length - MAX_QUEUED);
    void this.flush();
  }

  private async flush(): Promise<void> {
    if (this.sending || this.stopped) return;
    this.sending = true;
    clearTimeout(this.retryTimer);
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const r = this.queue[0];
        try {
          await this.api.reportMode({ sessionId: this.sessionId, mode: r.mode, reason: r.reason.slice(0, 200) });
        } catch (err) {
          // A refusal other than "slow down" will not change by sending it again.
          if (!(err instanceof HttpError) || err.status === 429 || err.status >= 500) throw err;
        }
        this.queue.shift();
      }
    } catch {
      if (!this.stopped) this.retryTimer = setTimeout(() => void this.flush(), RETRY_MS);
    } finally {
      this.sending = false;
    }
  }
}
