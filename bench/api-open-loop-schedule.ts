/**
 * The open-loop polling step's sender: requests are due at fixed times whatever the server does,
 * and each is timed from when it was due, so a server that stalls is charged for every request it
 * delayed.
 */
import { nowMs } from './protocol';
import { isAborting } from './procs';
import type { PostResult } from './http';
import type { ApiOptions } from './api-load';
import { bump, parse } from './api-calls';
import { onPage, type Poller, type Tally } from './api-pollers';

export type Poll = (p: Poller) => Promise<PostResult & { socketAt: number | null }>;

export class OpenLoopSchedule {
  /** Each answer's time from its due time, and the parts of it (ms). */
  readonly fromScheduled: number[] = [];
  readonly late: number[] = [];
  readonly socketWait: number[] = [];
  readonly service: number[] = [];
  scheduled = 0;
  maxInFlight = 0;
  tStart = 0;
  tLast = 0;
  private readonly interval: number;
  private total: number;
  /**
   * Due times not yet sent because every user already had a poll in flight: a real client never
   * polls twice at once, and two polls with one cursor would count as duplicates. It only fills
   * if the server stalls for about users / rate.
   */
  private readonly backlog: number[] = [];
  private readonly busy = new Set<Poller>();
  private inFlight = 0;
  private next = 0;
  private scheduling = true;
  private resolve = () => {};

  constructor(
    o: ApiOptions,
    private readonly pollers: Poller[],
    private readonly poll: Poll,
    private readonly tally: Tally,
    private readonly errors: Record<string, number>,
  ) {
    this.interval = 1000 / o.pollRate;
    this.total = Math.round(o.pollRate * o.pollRateSeconds);
  }

  /** Starts the clock; resolves when every due request has been answered. */
  run(): Promise<void> {
    this.tStart = nowMs();
    this.tLast = this.tStart;
    return new Promise<void>((resolve) => {
      this.resolve = resolve;
      this.tick();
    });
  }

  /**
   * A timer tick every ~1 ms sends everything that fell due since the last one; the due count
   * comes from the elapsed time, so a late timer or a busy driver sends a burst (each still timed
   * from its own due time) instead of lowering the offered rate. setTimeout rather than
   * setImmediate: a spinning driver would take a core from the server it shares the machine with.
   */
  private tick(): void {
    if (isAborting()) this.total = this.scheduled;
    const due = Math.min(this.total, Math.floor((nowMs() - this.tStart) / this.interval) + 1);
    while (this.scheduled < due) this.backlog.push(this.tStart + this.scheduled++ * this.interval);
    this.send();
    if (this.scheduled < this.total) setTimeout(() => this.tick(), 1);
    else {
      this.scheduling = false;
      this.finishIfDone();
    }
  }

  private finishIfDone(): void {
    if (!this.scheduling && this.backlog.length === 0 && this.inFlight === 0) this.resolve();
  }

  private freeUser(): Poller | undefined {
    const { pollers } = this;
    for (let k = 0; k < pollers.length; k++) {
      const p = pollers[this.next++ % pollers.length];
      if (!this.busy.has(p)) return p;
    }
    return undefined;
  }

  private send(): void {
    while (this.backlog.length) {
      const p = this.freeUser();
      if (!p) return;
      const due = this.backlog.shift()!;
      this.busy.add(p);
      this.inFlight++;
      if (this.inFlight > this.maxInFlight) this.maxInFlight = this.inFlight;
      const issued = nowMs();
      this.late.push(issued - due);
      void this.poll(p)
        .catch((e: Error) => ({ status: 0, body: (e as NodeJS.ErrnoException).code ?? e.message, socketAt: null }))
        .then((r) => this.answered(p, due, issued, r));
    }
  }

  private answered(p: Poller, due: number, issued: number, r: PostResult & { socketAt: number | null }): void {
    const t = nowMs();
    this.tLast = t;
    this.fromScheduled.push(t - due);
    if (r.socketAt !== null) {
      this.socketWait.push(r.socketAt - issued);
      this.service.push(t - r.socketAt);
    }
    const b = r.status === 200 ? parse(r.body) : undefined;
    if (b) onPage(p, b, this.tally);
    else bump(this.errors, `HTTP ${r.status}`);
    this.busy.delete(p);
    this.inFlight--;
    this.send();
    this.finishIfDone();
  }
}
