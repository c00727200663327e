/**
 * A process of the `notify` phase (notify.ts forks it under tsx, with IPC). Benchmark-only.
 *
 *   notify-worker.ts listener   one "instance" of the cross-instance path, as the server wires it
 *                               (services.ts): its own knex pool (openDatabase), an OutboxRelay that
 *                               reads the shared log by id, and a CommitListener whose LISTEN
 *                               connection pokes that relay. No HTTP and no streams: what is
 *                               measured is what NOTIFY carries to an instance, not the SSE writes.
 *   notify-worker.ts publisher  appends events through the real EventPublisher (transaction,
 *                               advisory lock, pg_notify, insert), one event per transaction, from
 *                               C concurrent transactions, at a fixed rate (open loop) or as fast
 *                               as it can (closed loop).
 *   notify-worker.ts rawlisten  PostgreSQL's NOTIFY alone, without our code: RAW_CONNECTIONS plain
 *                               `pg` connections LISTENing on RAW_CHANNEL, counting notifications
 *                               (the publisher's `raw` command sends them: `SELECT pg_notify(...)`,
 *                               one per transaction).
 *
 * Env: DATABASE_URL; RELAY_POLL_MS (listener's fallback poll, default 60000 so that what arrives
 * came through NOTIFY); WAKE_DEBOUNCE_MS (listener; default 0 = as runtime.ts: poke on every wake).
 */
import { Client } from 'pg';
import { openDatabase } from '../src/storage/db';
import { createLogger } from '../src/logger';
import { OutboxRelay } from '../src/events/outbox-relay';
import { CommitListener } from '../src/events/commit-listener';
import { EventPublisher } from '../src/events/event-publisher';
import type { EventRecord } from '../src/events/event-types';
import { nowMs, type RpcReply, type RpcRequest } from './protocol';

const role = process.argv[2];
const url = process.env.DATABASE_URL;
if (!url || !['listener', 'publisher', 'rawlisten'].includes(role)) {
  process.stderr.write('usage: DATABASE_URL=... notify-worker.ts listener|publisher|rawlisten\n');
  process.exit(2);
}
const logger = createLogger('warn');

/** What each event carries: the step it belongs to, its sequence number, and its send time. */
export interface NotifyStamp {
  r: string;
  s: number;
  /** nowMs() when its transaction started. */
  t: number;
}

export interface ListenerStep {
  step: string;
  received: number;
  duplicates: number;
  /** Receive time minus NotifyStamp.t, per event (ms). */
  lags: number[];
  firstRecv: number | null;
  lastRecv: number | null;
  /** Times the LISTEN connection woke the relay during the step. */
  wakes: number;
  /** Queries the relay ran on the log during the step (coalesced wakes share one). */
  reads: number;
  cpuUs: number;
}

export interface PublishRun {
  step: string;
  /** Target events/s, or null for as fast as possible. */
  rate: number | null;
  seconds: number;
  concurrency: number;
}

/** What a rawlisten process received during a step, per connection. */
export interface RawListenStep {
  received: number[];
  lags: number[];
  lastRecv: number | null;
  cpuUs: number;
}

export const RAW_CHANNEL = 'bench_raw_notify';

export interface PublishResult {
  step: string;
  committed: number;
  failed: number;
  errors: Record<string, number>;
  startedAt: number;
  endedAt: number;
  /** Transaction round trips (ms), start to commit. */
  txLatencies: number[];
  /** How far behind its schedule the open-loop publisher started its last event (ms). */
  behindMs: number;
  cpuUs: number;
}

async function listener() {
  const db = await openDatabase({ databaseUrl: url });
  let step: ListenerStep | null = null;
  let seen = new Set<number>();
  let cpu0 = process.cpuUsage();
  const deliver = (events: readonly EventRecord[]) => {
    const t = nowMs();
    for (const e of events) {
      const p = e.payload as Partial<NotifyStamp> | null;
      if (!step || !p || p.r !== step.step || typeof p.s !== 'number' || typeof p.t !== 'number') continue;
      if (seen.has(p.s)) {
        step.duplicates++;
        continue;
      }
      seen.add(p.s);
      step.received++;
      step.lags.push(t - p.t);
      step.firstRecv ??= t;
      step.lastRecv = t;
    }
  };
  db.knex.on('query', () => {
    if (step) step.reads++;
  });
  const relay = new OutboxRelay(db.knex, deliver, logger, Number(process.env.RELAY_POLL_MS ?? 60_000));
  await relay.start();
  // WAKE_DEBOUNCE_MS > 0 tries a proposed change without touching src/: a wake schedules one poke
  // that many ms later instead of poking at once, so wakes arriving meanwhile share one read.
  const debounceMs = Number(process.env.WAKE_DEBOUNCE_MS ?? 0);
  let pending: NodeJS.Timeout | null = null;
  const commits = new CommitListener(
    url!,
    () => {
      if (step) step.wakes++;
      if (debounceMs <= 0) return relay.poke();
      pending ??= setTimeout(() => {
        pending = null;
        relay.poke();
      }, debounceMs);
    },
    logger,
  );
  await commits.start();
  const stepsDone = new Map<string, ListenerStep>();
  serve(async (msg) => {
    switch (msg.cmd) {
      case 'begin': {
        if (step) stepsDone.set(step.step, step);
        step = { step: String(msg.step), received: 0, duplicates: 0, lags: [], firstRecv: null, lastRecv: null, wakes: 0, reads: 0, cpuUs: 0 };
        seen = new Set();
        cpu0 = process.cpuUsage();
        return { ok: true };
      }
      case 'progress':
        return { received: step?.received ?? 0 };
      case 'end': {
        if (!step) throw new Error('no step');
        step.cpuUs = cpuSince(cpu0);
        const done = step;
        step = null;
        return done;
      }
      case 'stop':
        relay.stop();
        await commits.stop();
        await db.close();
        setImmediate(() => process.exit(0));
        return { stopped: true };
      default:
        throw new Error(`unknown command ${msg.cmd}`);
    }
  });
}

async function rawListen() {
  const n = Number(process.env.RAW_CONNECTIONS ?? 1);
  let step: RawListenStep = { received: [], lags: [], lastRecv: null, cpuUs: 0 };
  let cpu0 = process.cpuUsage();
  const clients: Client[] = [];
  for (let i = 0; i < n; i++) {
    const c = new Client({ connectionString: url });
    c.on('error', () => undefined);
    await c.connect();
    c.on('notification', (msg) => {
      const t = nowMs();
      step.received[i] = (step.received[i] ?? 0) + 1;
      // Every connection's lag would be n nearly equal samples; the first connection's is enough.
      if (i === 0) step.lags.push(t - Number(msg.payload));
      step.lastRecv = t;
    });
    await c.query(`LISTEN ${RAW_CHANNEL}`);
    clients.push(c);
  }
  serve(async (msg) => {
    switch (msg.cmd) {
      case 'begin':
        step = { received: clients.map(() => 0), lags: [], lastRecv: null, cpuUs: 0 };
        cpu0 = process.cpuUsage();
        return { ok: true };
      case 'progress':
        return { received: Math.min(...step.received) };
      case 'end':
        step.cpuUs = cpuSince(cpu0);
        return step;
      case 'stop':
        await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
        setImmediate(() => process.exit(0));
        return { stopped: true };
      default:
        throw new Error(`unknown command ${msg.cmd}`);
    }
  });
}

async function publisher() {
  const db = await openDatabase({ databaseUrl: url, poolMax: 32 });
  const events = new EventPublisher(db.knex, () => undefined);
  serve(async (msg) => {
    switch (msg.cmd) {
      case 'run':
        return publishEvents(events, msg as unknown as PublishRun);
      case 'raw':
        return publishRaw(msg as unknown as { seconds: number; concurrency: number });
      case 'stop':
        await db.close();
        setImmediate(() => process.exit(0));
        return { stopped: true };
      default:
        throw new Error(`unknown command ${msg.cmd}`);
    }
  });
}

/** One event per transaction through the real EventPublisher, from C concurrent loops, on schedule (open loop) or as fast as they can. */
async function publishEvents(events: EventPublisher, o: PublishRun): Promise<PublishResult> {
  const cpu0 = process.cpuUsage();
  const res = startResult(o.step);
  const t0 = res.startedAt;
  const end = t0 + o.seconds * 1000;
  const total = o.rate === null ? Infinity : Math.round(o.rate * o.seconds);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const s = next++;
      if (s >= total) return;
      // Nothing starts after the step's time is up: a publisher that fell behind its schedule
      // simply committed fewer than rate x seconds (and the step did not keep up).
      if (nowMs() >= end) return;
      if (o.rate !== null) {
        const due = t0 + (s * 1000) / o.rate;
        const wait = due - nowMs();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        else res.behindMs = Math.max(res.behindMs, -wait);
      }
      const t = nowMs();
      try {
        await events.publish([{ type: 'bench.notify', audience: ['user:bench-notify'], payload: { r: o.step, s, t } satisfies NotifyStamp }]);
        res.committed++;
        res.txLatencies.push(nowMs() - t);
      } catch (err) {
        countError(res, (err as NodeJS.ErrnoException).code ?? (err as Error).message.slice(0, 80));
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  res.endedAt = nowMs();
  res.cpuUs = cpuSince(cpu0);
  return res;
}

/** Closed loop: C connections each sending `SELECT pg_notify(channel, now)` (one transaction each) for `seconds`. */
async function publishRaw(o: { seconds: number; concurrency: number }): Promise<PublishResult> {
  const cpu0 = process.cpuUsage();
  const clients = await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      const c = new Client({ connectionString: url });
      c.on('error', () => undefined);
      await c.connect();
      return c;
    }),
  );
  const res = startResult('raw');
  const end = res.startedAt + o.seconds * 1000;
  await Promise.all(
    clients.map(async (c) => {
      while (nowMs() < end) {
        const t = nowMs();
        try {
          await c.query('SELECT pg_notify($1, $2)', [RAW_CHANNEL, String(t)]);
          res.committed++;
          res.txLatencies.push(nowMs() - t);
        } catch (err) {
          countError(res, (err as Error).message.slice(0, 80));
        }
      }
    }),
  );
  res.endedAt = nowMs();
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  res.cpuUs = cpuSince(cpu0);
  return res;
}

/** A publish run's result, started now. */
function startResult(step: string): PublishResult {
  return { step, committed: 0, failed: 0, errors: {}, startedAt: nowMs(), endedAt: 0, txLatencies: [], behindMs: 0, cpuUs: 0 };
}

function countError(res: PublishResult, key: string): void {
  res.failed++;
  res.errors[key] = (res.errors[key] ?? 0) + 1;
}

/** User and system CPU time of this process since `cpu0` (us). */
function cpuSince(cpu0: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(cpu0);
  return c.user + c.system;
}

function serve(handle: (msg: RpcRequest) => Promise<unknown>): void {
  process.on('message', (msg: RpcRequest) => {
    handle(msg).then(
      (result) => process.send?.({ rid: msg.rid, ok: true, result } satisfies RpcReply),
      (err: Error) => process.send?.({ rid: msg.rid, ok: false, error: String(err?.stack ?? err) } satisfies RpcReply),
    );
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ rid: 0, ok: true, result: 'ready' } satisfies RpcReply);
}

(role === 'listener' ? listener() : role === 'rawlisten' ? rawListen() : publisher()).catch((err) => {
  process.stderr.write(`notify-worker ${role} failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
