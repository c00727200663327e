/**
 * What the steps of the announce phase share: its server and database session, the users, the
 * agents the requests go through, and the errors found so far.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { Client } from 'pg';
import { nowMs } from './protocol';
import { assertNotAborting, type ServerProc } from './procs';
import { requestJson, type PostResult } from './http';
import { summarize } from './report';
import type { AnnounceDeps, AnnounceOptions, Latency, Role } from './announce';

export interface AnnounceUser {
  id: string;
  role: Role;
  token: string;
}

export interface AnnounceUsers {
  /** The run's tag in every user id. */
  run: string;
  users: AnnounceUser[];
  admin: { id: string; token: string };
}

export const lat = (values: number[]): Latency => {
  const s = summarize(values);
  return { n: s.n, p50Ms: s.p50, p99Ms: s.p99, maxMs: s.max };
};

/** An answer's JSON body, or undefined when it is not JSON. */
export const json = (r: PostResult): any => {
  try {
    return JSON.parse(r.body);
  } catch {
    return undefined;
  }
};

/** U users, half client, half provider, and the admin who announces. */
export function makeAnnounceUsers(o: AnnounceOptions, sign: AnnounceDeps['sign']): AnnounceUsers {
  const run = crypto.randomBytes(3).toString('hex');
  const users = Array.from({ length: o.users }, (_, i) => {
    const role: Role = i % 2 === 0 ? 'client' : 'provider';
    const id = `ann-${run}-${i}`;
    return { id, role, token: sign(id, role) };
  });
  return { run, users, admin: { id: `ann-${run}-admin`, token: sign(`ann-${run}-admin`, 'admin') } };
}

export class AnnounceSession {
  /** The first errors found; `errorCount` counts them all. */
  readonly errors: string[] = [];
  errorCount = 0;
  // One request at a time for every timed call, on a kept-alive socket: server time, not TCP setup.
  readonly seq: http.Agent;
  readonly pool: http.Agent;

  constructor(
    readonly o: AnnounceOptions,
    readonly say: (msg: string) => void,
    readonly server: ServerProc,
    /** A session on the phase's database (PostgreSQL only): users are inserted and rows counted through it. */
    readonly pg: Client | null,
    readonly who: AnnounceUsers,
  ) {
    this.seq = new http.Agent({ keepAlive: true, maxSockets: 1 });
    this.pool = new http.Agent({ keepAlive: true, maxSockets: o.createConcurrency });
  }

  error(msg: string): void {
    this.errorCount++;
    if (this.errors.length < 20) this.errors.push(msg);
  }

  /** A request that must not fail because the server died; the caller judges the status. */
  async call(method: 'GET' | 'POST', p: string, token: string, body: unknown, agent: http.Agent): Promise<PostResult & { ms: number }> {
    assertNotAborting();
    const t = nowMs();
    try {
      const r = await requestJson(method, `${this.server.url}${p}`, token, body, agent);
      return { ...r, ms: nowMs() - t };
    } catch (err) {
      const why = this.server.exitReport();
      if (why) throw new Error(why, { cause: err });
      return { status: 0, body: (err as NodeJS.ErrnoException).code ?? (err as Error).message, ms: nowMs() - t };
    }
  }

  close(): void {
    this.seq.destroy();
    this.pool.destroy();
  }
}
