/**
 * The blocks of the longpoll phase's CPU comparison, and what they count: long-poll cycles woken
 * by an event to their user or by an announcement to all, publishing to users who hold nothing,
 * short polls with and without an event to pick up; each block's server CPU read around it.
 */
import { nowMs } from './protocol';
import { readMetrics, requestJson } from './http';
import type { LongPollSession } from './longpoll-session';
import { sleep } from '../test/support/sleep';

/** DISPATCH_POLL_MS for the run (ms). */
export const DISPATCH_TICK_MS = 50;

/** Server CPU per block, summed over the rounds (s). */
export interface CpuSeconds {
  publishOnlySeconds: number;
  cycleSeconds: number;
  shortSeconds: number;
  shortWithEventSeconds: number;
  fanoutPublishSeconds: number;
  fanoutSeconds: number;
}

/** `count` calls of `one`, 4 in flight. */
async function fourAtATime(count: number, one: () => Promise<void>): Promise<void> {
  let left = count;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (left > 0) {
        left--;
        await one();
      }
    }),
  );
}

export class CpuBlocks {
  readonly cpu: CpuSeconds = { publishOnlySeconds: 0, cycleSeconds: 0, shortSeconds: 0, shortWithEventSeconds: 0, fanoutPublishSeconds: 0, fanoutSeconds: 0 };
  readonly shortErrors: Record<string, number> = {};
  /** Targeted events to the cycle users that were accepted, in the timed blocks. */
  cycleSent = 0;
  /** Events picked up by short polls, and the polls made for them. */
  shortWithEvent = 0;
  shortWithEventPolls = 0;
  /** Held polls woken by announcements to all, in the timed blocks. */
  fanoutCycles = 0;
  /** Each short-polling user's last event id. */
  private readonly cursors = new Map<string, string>();
  private shortNext = 0;
  private cycleNext = 0;
  private absentNext = 0;

  constructor(private readonly s: LongPollSession) {}

  /** Runs `fn` and adds the server's CPU for it, its dispatcher ticks included, to `what`. */
  async timed(what: keyof CpuSeconds, fn: () => Promise<void>): Promise<void> {
    const a = await readMetrics(this.s.server.url);
    await fn();
    // The dispatcher's work for this block's notifications, on its next ticks: in this block,
    // not the next one (the publish-only block's would otherwise land in the cycle block).
    await sleep(DISPATCH_TICK_MS * 3);
    const b = await readMetrics(this.s.server.url);
    this.cpu[what] += b.cpuSeconds - a.cpuSeconds;
  }

  /** Each short-polling user's first poll, for its cursor. */
  async readCursors(): Promise<void> {
    const { server, agent } = this.s;
    for (const u of this.s.users.shortUsers) {
      const r = await requestJson('GET', `${server.url}/api/events`, u.token, undefined, agent);
      this.cursors.set(u.id, (JSON.parse(r.body) as { lastEventId: string }).lastEventId);
    }
  }

  /**
   * The users the publish-only block publishes to hold nothing, but they must exist like the cycle
   * and short-poll users (a user row is written on a user's first request): a personal
   * announcement to a user with no row makes no notification, no `notification.created` event and
   * no dispatcher work, so the block would subtract far less than a cycle's publish costs.
   */
  async createAbsentUsers(): Promise<void> {
    const { server, agent } = this.s;
    for (const u of this.s.users.absentUsers) await requestJson('GET', `${server.url}/api/events`, u.token, undefined, agent);
  }

  /** `count` short polls (`?after=`, no wait), 4 at a time, round the short-polling users. */
  shortPolls(count: number): Promise<void> {
    const { server, agent, users } = this.s;
    return fourAtATime(count, async () => {
      const u = users.shortUsers[this.shortNext++ % users.shortUsers.length];
      const r = await requestJson('GET', `${server.url}/api/events?after=${this.cursors.get(u.id)}`, u.token, undefined, agent);
      if (r.status !== 200) this.shortErrors[`HTTP ${r.status}`] = (this.shortErrors[`HTTP ${r.status}`] ?? 0) + 1;
      else this.cursors.set(u.id, (JSON.parse(r.body) as { lastEventId: string }).lastEventId);
    });
  }

  /**
   * `count` times: an event to a short-polling user, then that user's polls until one returns it
   * (the 202 can come before this instance's relay has dispatched the event); 4 at a time.
   */
  shortWithEventBlock(count: number): Promise<void> {
    const { users } = this.s;
    return fourAtATime(count, async () => {
      const u = users.shortUsers[this.shortNext++ % users.shortUsers.length];
      if (!(await this.s.publish(u.id, { p: 'short', s: 0, t: nowMs() }))) return;
      await this.pollUntilEvent(u);
    });
  }

  /** One short-polling user's polls until one returns an event (at most 100). */
  private async pollUntilEvent(u: { id: string; token: string }): Promise<void> {
    const { server, agent } = this.s;
    for (let tries = 0; tries < 100; tries++) {
      this.shortWithEventPolls++;
      const r = await requestJson('GET', `${server.url}/api/events?after=${this.cursors.get(u.id)}`, u.token, undefined, agent);
      if (r.status !== 200) {
        this.shortErrors[`HTTP ${r.status}`] = (this.shortErrors[`HTTP ${r.status}`] ?? 0) + 1;
        break;
      }
      const body = JSON.parse(r.body) as { lastEventId: string; events: unknown[] };
      this.cursors.set(u.id, body.lastEventId);
      if (body.events.length > 0) {
        this.shortWithEvent++;
        break;
      }
    }
  }

  /** `count` events to the long-polling cycle users, 4 publishers; resolves once each arrived and its poll is back. */
  async cycleBlock(phase: string, count: number): Promise<void> {
    const { cycleUsers } = this.s.users;
    let sent = 0;
    await fourAtATime(count, async () => {
      const i = this.cycleNext++ % cycleUsers.length;
      if (await this.s.publish(cycleUsers[i].id, { p: phase, s: sent, t: nowMs(), u: i })) {
        this.s.expect(phase, i);
        sent++;
      }
    });
    this.cycleSent = phase === 'cyc' ? this.cycleSent + sent : this.cycleSent;
    await this.settle(phase);
  }

  /** Until every event of `phase` arrived and every answered poll's successor is on the wire (and held). */
  private async settle(phase: string): Promise<void> {
    await this.s.awaitPhase(this.s.lp, phase, this.s.expectedTotal(phase), 30_000);
    for (let i = 0; i < 50; i++) {
      const st = await this.s.pollStatus();
      if (st.inFlight >= st.pollers) break;
      await sleep(10);
    }
    await sleep(20);
  }

  /** `count` announcements to all, one at a time: each wakes every cycle user's held poll. */
  async fanoutBlock(phase: string, count: number): Promise<void> {
    const { cycleUsers } = this.s.users;
    for (let k = 0; k < count; k++) {
      if (!(await this.s.publish(null, { p: phase, s: k, t: nowMs() }))) continue;
      for (let i = 0; i < cycleUsers.length; i++) this.s.expect(phase, i);
      if (phase === 'fan') this.fanoutCycles += cycleUsers.length;
      await this.settle(phase);
    }
  }

  /** `count` events to users who exist and hold nothing, 4 publishers: publishing's own cost. */
  publishOnlyBlock(count: number): Promise<void> {
    const { absentUsers } = this.s.users;
    return fourAtATime(count, async () => {
      const u = absentUsers[this.absentNext++ % absentUsers.length];
      await this.s.publish(u.id, { p: 'absent', s: 0, t: nowMs() });
    });
  }
}
