/**
 * What the steps of the longpoll phase share: its server, the long-poll client and the stream
 * client, the users, the admin's publisher, and how many events of each phase every poll or stream
 * must receive.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import jwt from 'jsonwebtoken';
import type { Stamp } from './protocol';
import { assertNotAborting, type LoadClientProc, type ServerProc } from './procs';
import { getText, postJson, readMetrics, type MetricsSample } from './http';
import type { LongPollStatus } from './long-poll-client';
import type { LongPollOptions } from './longpoll';
import { sleep } from '../test/support/sleep';

export interface LongPollUser {
  id: string;
  token: string;
}

export interface LongPollUsers {
  /** Hold long polls in the CPU blocks; the long-poll client's first pollers. */
  cycleUsers: LongPollUser[];
  /** The N held polls of the memory step, after the cycle users in the long-poll client. */
  pollUsers: LongPollUser[];
  /** The long-poll client's pollers in its order: the cycle users, then the N held polls. */
  lpUsers: LongPollUser[];
  shortUsers: LongPollUser[];
  /** Exist (they made one request) but hold nothing: the publish-only block's targets. */
  absentUsers: LongPollUser[];
  streamUsers: LongPollUser[];
  /** The admin's token, for publishing. */
  admin: string;
}

type Role = 'client' | 'provider';

/** Every kind of user the phase needs, distinct per run, half client and half provider. */
export function makeLongPollUsers(o: LongPollOptions, jwtSecret: string): LongPollUsers {
  const key = crypto.createSecretKey(Buffer.from(jwtSecret, 'utf8'));
  const run = crypto.randomBytes(3).toString('hex');
  const user = (kind: string, i: number) => {
    const role: Role = i % 2 === 0 ? 'client' : 'provider';
    const id = `lp-${run}-${kind}-${i}`;
    return { id, token: jwt.sign({ sub: id, role }, key, { algorithm: 'HS256', expiresIn: 3600 }) };
  };
  const many = (kind: string, n: number) => Array.from({ length: n }, (_, i) => user(kind, i));
  const cycleUsers = many('cyc', o.cycleUsers);
  const pollUsers = many('poll', o.polls);
  const lpUsers = [...cycleUsers, ...pollUsers];
  const shortUsers = many('short', o.cycleUsers);
  const absentUsers = many('absent', o.cycleUsers);
  const streamUsers = many('stream', o.streams);
  const admin = jwt.sign({ sub: `lp-${run}-admin`, role: 'admin' }, key, { algorithm: 'HS256', expiresIn: 3600 });
  return { cycleUsers, pollUsers, lpUsers, shortUsers, absentUsers, streamUsers, admin };
}

export class LongPollSession {
  /** Per phase, per poller or stream index: events it must receive. */
  readonly expected = new Map<string, Map<number, number>>();
  readonly publishErrors: Record<string, number> = {};
  readonly agent: http.Agent;

  constructor(
    readonly o: LongPollOptions,
    readonly say: (msg: string) => void,
    readonly server: ServerProc,
    /** The long-poll client (long-poll-client.ts). */
    readonly lp: LoadClientProc,
    /** The stream client (load-client.ts). */
    readonly sc: LoadClientProc,
    readonly users: LongPollUsers,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  }

  /** One more event of `phase` for poller or stream `i`. */
  expect(phase: string, i: number): void {
    let e = this.expected.get(phase);
    if (!e) this.expected.set(phase, (e = new Map()));
    e.set(i, (e.get(i) ?? 0) + 1);
  }

  /** Events of `phase` sent so far, over every poller or stream. */
  expectedTotal(phase: string): number {
    return [...(this.expected.get(phase)?.values() ?? [])].reduce((a, v) => a + v, 0);
  }

  /** One announcement to one user, or to everyone (`null`); false (counted by cause) when it is not accepted, an error when the server died. */
  async publish(userId: string | null, stamp: Stamp): Promise<boolean> {
    assertNotAborting();
    const text = { title: 'bench', body: JSON.stringify(stamp) };
    let cause: string;
    try {
      const r = await postJson(
        `${this.server.url}/api/broadcasts`,
        this.users.admin,
        userId === null ? { ...text, all: true } : { ...text, userIds: [userId] },
        this.agent,
      );
      if (r.status === 202) return true;
      cause = `HTTP ${r.status}`;
      if (!this.publishErrors[cause]) this.say(`publish answered ${r.status}: ${r.body.slice(0, 200)}`);
    } catch (err) {
      const why = this.server.exitReport();
      if (why) throw new Error(why, { cause: err });
      cause = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    }
    this.publishErrors[cause] = (this.publishErrors[cause] ?? 0) + 1;
    return false;
  }

  /** Waits for a client to hold `total` unique receipts of `phase`, giving up early if the server died. */
  async awaitPhase(client: LoadClientProc, phase: string, total: number, timeoutMs: number): Promise<{ reached: boolean; unique: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      const w = await client.rpc.call<{ reached: boolean; unique: number }>('await', { phase, total, timeoutMs: Math.max(0, Math.min(1_000, left)) });
      if (w.reached || left <= 1_000) return w;
      const why = this.server.exitReport();
      if (why) throw new Error(why);
    }
  }

  pollStatus(): Promise<LongPollStatus> {
    return this.lp.rpc.call<LongPollStatus>('status');
  }

  /** The server's /metrics after a forced GC, so heap figures count live objects. */
  async gcAndRead(): Promise<MetricsSample> {
    await this.server.rpc.call('gc', {}, 30_000);
    return readMetrics(this.server.url);
  }

  /** Long polls the server holds now (/api/status). */
  async held(): Promise<number> {
    const r = await getText(`${this.server.url}/api/status`);
    return (JSON.parse(r.body) as { longPolls: { held: number } }).longPolls.held;
  }

  /** Until the server holds `n` polls (or the time runs out); the count it reached. */
  async awaitHeld(n: number, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let h = await this.held();
    while (h < n && Date.now() < deadline) {
      await sleep(200);
      const why = this.server.exitReport();
      if (why) throw new Error(why);
      h = await this.held();
    }
    return h;
  }

  close(): void {
    this.agent.destroy();
  }
}
