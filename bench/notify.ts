/**
 * The `notify` phase of `npm run bench` (`--only notify`): what the PostgreSQL NOTIFY path carries
 * between instances. PostgreSQL only (it is the cross-instance bus; PGlite has one process).
 *
 * On a fresh database: one publisher process (notify-worker.ts publisher: the real EventPublisher,
 * one event per transaction, C concurrent transactions) and K listener processes (notify-worker.ts
 * listener: each its own knex pool, OutboxRelay and CommitListener, wired as runtime.ts wires them,
 * fallback poll off). For each K (default 0, 2, 5, 20; K=0 is the write path alone) the publisher
 * runs a ladder of fixed rates (open loop: event i is due at i/rate s) and then a closed-loop "max"
 * step. Per step: events committed per second, what every listener received (each must receive every
 * committed event exactly once), lag from the publisher starting the event's transaction to a
 * listener's relay handing it on (p50/p99 over all listeners), how many times NOTIFY woke each
 * relay per event (coalescing), CPU per event in a listener and in the publisher, and the CPU of
 * every `postgres` process and of the whole machine during the step.
 *
 * A step "keeps up" when the publisher committed >= 95% of its target rate, every listener had
 * every event within the wait, and lag p99 stayed under 250 ms. The first step that does not is
 * where that K saturates; the "max" step measures the ceiling.
 *
 * This file runs the configurations in order; notify-steps.ts runs one (its ladder of steps and
 * what each measured), notify-raw.ts measures NOTIFY alone, notify-report.ts prints the tables,
 * notify-workers.ts forks the processes and notify-cpu.ts reads the CPU counters.
 */
import { openDatabase } from '../src/storage/db';
import type { PrepareDatabase } from './procs';
import { forkWorker, stopWorker, type Worker } from './notify-workers';
import type { NotifySession } from './notify-session';
import { runConfiguration } from './notify-steps';
import { runRawStep } from './notify-raw';

export { notifyReport } from './notify-report';

export interface NotifyOptions {
  /** Listening instances per configuration; 0 = no listener (the write path alone). */
  instances: number[];
  /** Fixed publish rates (events/s), in order; a closed-loop "max" step follows. */
  rates: number[];
  seconds: number;
  concurrency: number;
  embedded: boolean;
  /** Listener wakes debounced by this many ms (0 = as the server does it: a read per wake). */
  debounceMs: number;
}

export interface NotifyDeps {
  progress: (msg: string) => void;
  prepareDatabase: PrepareDatabase;
}

export interface NotifyStep {
  instances: number;
  /** Target events/s; null = as fast as the publisher can (closed loop). */
  targetRate: number | null;
  seconds: number;
  concurrency: number;
  committed: number;
  failed: number;
  publishErrors: Record<string, number>;
  committedPerSec: number;
  /** Slowest listener: its events / (its last receive - publish start). */
  deliveredPerSecMin: number | null;
  deliveredPerSecMedian: number | null;
  /** Sum over listeners: events handed to relays per second. */
  deliveriesPerSec: number | null;
  lagP50Ms: number | null;
  lagP99Ms: number | null;
  lagMaxMs: number | null;
  txP50Ms: number | null;
  txP99Ms: number | null;
  publisherBehindMs: number;
  lost: number;
  duplicates: number;
  allDelivered: boolean;
  wakesPerEvent: number | null;
  /** Log reads per event per listener: below 1 when wakes coalesce while a read is running. */
  readsPerEvent: number | null;
  listenerCpuPerEventUs: number | null;
  publisherCpuPerEventUs: number | null;
  /** Cores used by all `postgres` processes during the step (includes anything else using them). */
  postgresCores: number | null;
  /** Share of the machine's CPU time that was busy during the step. */
  machineBusy: number | null;
  keptUp: boolean;
}

export interface RawStep {
  instances: number;
  seconds: number;
  concurrency: number;
  sentPerSec: number;
  receivedPerSecMin: number | null;
  lagP50Ms: number | null;
  lagP99Ms: number | null;
  lost: number;
  postgresCores: number | null;
  machineBusy: number | null;
}

export interface NotifyResult {
  database: string;
  skipped: string | null;
  options: NotifyOptions;
  startupMs: Record<string, number>;
  steps: NotifyStep[];
  /** PostgreSQL NOTIFY alone (no log, no relay): K plain connections LISTENing, closed-loop pg_notify. */
  raw: RawStep[];
  /** Per K: the highest fixed rate that kept up, the first that did not, and the max step's figures. */
  saturation: Array<{
    instances: number;
    highestKeptUp: number | null;
    firstFailed: number | null;
    maxCommittedPerSec: number;
    maxDeliveredPerSecMin: number | null;
  }>;
}

export async function runNotify(o: NotifyOptions, deps: NotifyDeps): Promise<NotifyResult> {
  const say = (msg: string) => deps.progress(`[notify] ${msg}`);
  const result: NotifyResult = { database: '', skipped: null, options: o, startupMs: {}, steps: [], raw: [], saturation: [] };
  if (o.embedded) {
    result.skipped = 'NOTIFY is the bus between server processes on one PostgreSQL; embedded PGlite is one process';
    return result;
  }
  const db = await deps.prepareDatabase(false);
  result.database = db.kind;
  const url = db.env.DATABASE_URL;
  const listeners: Worker[] = [];
  let pub: Worker | undefined;
  try {
    result.startupMs.migrate = await migrate(url);
    const t1 = Date.now();
    pub = await forkWorker('publisher', { DATABASE_URL: url }, 'notify publisher');
    result.startupMs.publisher = Date.now() - t1;
    const session: NotifySession = { o, url, result, say, pub, listeners, seq: 0 };
    for (const k of o.instances) await runConfiguration(session, k);
    // PostgreSQL's NOTIFY by itself, with our listeners gone (they would be woken too).
    await Promise.all(listeners.splice(0).map(stopWorker));
    for (const k of o.instances.filter((n) => n > 0)) await runRawStep(session, k);
  } finally {
    say('stopping workers');
    await Promise.all(listeners.map((l) => l.rpc.call('stop', {}, 10_000).catch(() => undefined)));
    await Promise.all(listeners.map((l) => l.stop()));
    if (pub) await stopWorker(pub);
    await db.drop();
  }
  return result;
}

/** Migrates the fresh database; returns how long that took (ms). */
async function migrate(url: string): Promise<number> {
  const t0 = Date.now();
  const database = await openDatabase({ databaseUrl: url });
  await database.migrate();
  await database.close();
  return Date.now() - t0;
}
