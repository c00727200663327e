/**
 * What the phases of one side of the streams comparison share: its server and load client, the
 * admin's publisher, and how many events of each phase every stream must receive.
 */
import http from 'node:http';
import { nowMs, type BroadcastBody, type Stamp } from './protocol';
import { assertNotAborting, type LoadClientProc, type ServerProc } from './procs';
import { postJson } from './http';
import { rng } from './report';
import { progress } from './progress';
import type { Options, TargetName } from './options';
import type { BenchUser } from './users';

export class StreamsSession {
  /** Per phase, per stream index: events the stream must receive. */
  readonly expected = new Map<string, Int32Array>();
  readonly publishErrors: Record<string, number> = {};
  /** Round trips of the publishes since the last `takeRtts`. */
  private publishRtts: number[] = [];
  private readonly agent: http.Agent;
  private readonly publishUrl: string;
  private readonly padding: string | undefined;
  private readonly pick: () => number;

  constructor(
    readonly name: TargetName,
    readonly opts: Options,
    readonly users: BenchUser[],
    private readonly adminToken: string,
    readonly server: ServerProc,
    readonly client: LoadClientProc,
    /** Indices of the users whose stream opened. */
    readonly opened: number[],
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: opts.publishers });
    this.publishUrl = `${server.url}/api/broadcasts`;
    this.padding = opts.payloadBytes > 0 ? 'x'.repeat(opts.payloadBytes) : undefined;
    this.pick = rng(opts.seed);
  }

  /** The expectations of `phase`, created empty on first use. */
  expect(phase: string): Int32Array {
    let e = this.expected.get(phase);
    if (!e) this.expected.set(phase, (e = new Int32Array(this.users.length)));
    return e;
  }

  /** POSTs one broadcast; false (counted by cause) when it is not accepted, an error when the server died. */
  async publish(body: BroadcastBody): Promise<boolean> {
    assertNotAborting();
    const t = nowMs();
    try {
      const r = await postJson(this.publishUrl, this.adminToken, body, this.agent);
      this.publishRtts.push(nowMs() - t);
      if (r.status === 202) return true;
      const k = `HTTP ${r.status}`;
      this.publishErrors[k] = (this.publishErrors[k] ?? 0) + 1;
      if (this.publishErrors[k] === 1) progress(`[${this.name}] publish answered ${r.status}: ${r.body.slice(0, 200)}`);
    } catch (err) {
      const why = this.server.exitReport();
      if (why) throw new Error(why, { cause: err });
      const k = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      this.publishErrors[k] = (this.publishErrors[k] ?? 0) + 1;
    }
    return false;
  }

  /** The publish round trips since the last call. */
  takeRtts(): number[] {
    return this.publishRtts.splice(0);
  }

  /** Waits for the client to hold `total` unique receipts of `phase`, giving up early if the server died. */
  async awaitPhase(phase: string, total: number, timeoutMs: number): Promise<{ reached: boolean; unique: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      const w = await this.client.rpc.call<{ reached: boolean; unique: number }>('await', {
        phase,
        total,
        timeoutMs: Math.max(0, Math.min(1_000, left)),
      });
      if (w.reached || left <= 1_000) return w;
      const why = this.server.exitReport();
      if (why) throw new Error(why);
    }
  }

  /** An announcement body carrying the stamp, padded by --payload-bytes. */
  stampBody(s: Stamp): string {
    return JSON.stringify(this.padding === undefined ? s : { ...s, x: this.padding });
  }

  /** A random opened stream's user index (the same sequence on every side, from --seed). */
  randomOpened(): number {
    return this.opened[Math.floor(this.pick() * this.opened.length)];
  }

  close(): void {
    this.agent.destroy();
  }
}
