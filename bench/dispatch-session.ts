/**
 * What the steps of one side of the dispatch phase share: its server, load client, the channels'
 * fakes and the database, the users, the admin's publisher, and how many events of each phase the
 * streams must receive.
 */
import http from 'node:http';
import type { Client } from 'pg';
import { nowMs, type PhaseReport } from './protocol';
import type { LoadClientProc, ServerProc } from './procs';
import { postJson } from './http';
import { rng, summarize } from './report';
import type { DispatchOptions, Latency } from './dispatch';

export interface DispatchUser {
  id: string;
  token: string;
}

export interface SideUsers {
  admin: string;
  streamUsers: DispatchUser[];
  awayUsers: DispatchUser[];
}

export interface SideProcs {
  server: ServerProc;
  client: LoadClientProc;
  fakes: LoadClientProc;
  /** A session on the side's database (PostgreSQL only), for counters read from outside. */
  pg: Client | null;
}

export const lat = (values: number[]): Latency => {
  const s = summarize(values);
  return { samples: s.n, p50Ms: s.p50, p99Ms: s.p99 };
};

export class DispatchSession {
  readonly server: ServerProc;
  readonly client: LoadClientProc;
  readonly fakes: LoadClientProc;
  readonly pg: Client | null;
  readonly streamUsers: DispatchUser[];
  readonly awayUsers: DispatchUser[];
  private readonly admin: string;
  private readonly expectedByPhase = new Map<string, number>();
  /** Round trips of the publishes since the last `takeRtts`. */
  private rtts: number[] = [];
  private publishErrors = 0;
  private readonly agent: http.Agent;
  private readonly publishUrl: string;
  private readonly pick: () => number;

  constructor(
    readonly o: DispatchOptions,
    readonly tag: string,
    readonly progress: (msg: string) => void,
    procs: SideProcs,
    users: SideUsers,
    /** Indices of the stream users whose stream opened. */
    readonly opened: number[],
    round: number,
  ) {
    ({ server: this.server, client: this.client, fakes: this.fakes, pg: this.pg } = procs);
    ({ admin: this.admin, streamUsers: this.streamUsers, awayUsers: this.awayUsers } = users);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: o.publishers + 1 });
    this.publishUrl = `${this.server.url}/api/broadcasts`;
    this.pick = rng(o.seed + round);
  }

  /** POSTs one announcement to one user; false when it is not accepted, an error when the server died. */
  async publish(userId: string, body: string): Promise<boolean> {
    const t = nowMs();
    try {
      const r = await postJson(this.publishUrl, this.admin, { title: 'bench', body, userIds: [userId] }, this.agent);
      this.rtts.push(nowMs() - t);
      if (r.status === 202) return true;
      if (++this.publishErrors === 1) this.progress(`${this.tag} publish answered ${r.status}: ${r.body.slice(0, 200)}`);
    } catch (err) {
      const why = this.server.exitReport();
      if (why) throw new Error(why, { cause: err });
      if (++this.publishErrors === 1) this.progress(`${this.tag} publish failed: ${(err as Error).message}`);
    }
    return false;
  }

  /** The publish round trips since the last call. */
  takeRtts(): number[] {
    return this.rtts.splice(0);
  }

  /** One more event of `phase` the streams must receive. */
  expect(phase: string): void {
    this.expectedByPhase.set(phase, this.expected(phase) + 1);
  }

  expected(phase: string): number {
    return this.expectedByPhase.get(phase) ?? 0;
  }

  awaitPhase(phase: string, timeoutMs: number): Promise<{ reached: boolean; unique: number }> {
    return this.client.rpc.call<{ reached: boolean; unique: number }>('await', { phase, total: this.expected(phase), timeoutMs }, timeoutMs + 5_000);
  }

  /** The next number of the side's seeded sequence (the same on every side of a round). */
  random(): number {
    return this.pick();
  }

  randomStream(): number {
    return this.opened[Math.floor(this.pick() * this.opened.length)];
  }

  /** One event at a time to a random stream, the next after it arrived. */
  async sequential(phase: string, count: number, until?: () => boolean): Promise<void> {
    for (let s = 0; s < count && !(until?.() ?? false); s++) {
      const idx = this.randomStream();
      if (!(await this.publish(this.streamUsers[idx].id, JSON.stringify({ p: phase, s, t: nowMs(), u: idx })))) continue;
      this.expect(phase);
      await this.awaitPhase(phase, 5_000);
    }
  }

  async phaseLatency(phase: string): Promise<Latency> {
    return lat((await this.client.rpc.call<PhaseReport>('report', { phase })).latencies);
  }

  close(): void {
    this.agent.destroy();
  }
}
