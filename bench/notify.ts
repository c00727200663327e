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
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fork } from 'node:child_process';
import { openDatabase } from '../src/storage/db';
import { ROOT, Rpc, assertNotAborting, onCleanup, runnable, stopChild, type PrepareDatabase } from './procs';
import { summarize } from './report';
import type { ListenerStep, PublishResult, PublishRun, RawListenStep } from './notify-worker';
import { sleep } from '../test/support/sleep';

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
  /** Per K: the highest fixed rate that kept up, the first that did not, and the max step's figures. */
  /** PostgreSQL NOTIFY alone (no log, no relay): K plain connections LISTENing, closed-loop pg_notify. */
  raw: RawStep[];
  saturation: Array<{
    instances: number;
    highestKeptUp: number | null;
    firstFailed: number | null;
    maxCommittedPerSec: number;
    maxDeliveredPerSecMin: number | null;
  }>;
}

interface Worker {
  rpc: Rpc;
  stop: () => Promise<void>;
}

async function forkWorker(role: 'listener' | 'publisher' | 'rawlisten', env: Record<string, string>, label: string): Promise<Worker> {
  assertNotAborting();
  const worker = runnable('bench/notify-worker.ts');
  const child = fork(path.join(ROOT, worker.file), [role], {
    cwd: ROOT,
    execArgv: worker.execArgv,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const stop = onCleanup(`stop ${label}`, async () => {
    await stopChild(child, 5_000);
  });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${label} did not start within 60 s`)), 60_000);
    child.once('message', () => {
      clearTimeout(t);
      resolve();
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`${label} exited during startup (code ${code})`));
    });
  });
  return { rpc: new Rpc(child, label), stop };
}

/** utime+stime jiffies of every process named `postgres` (Linux /proc; null elsewhere). */
function postgresJiffies(): number | null {
  try {
    let sum = 0;
    for (const pid of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let stat: string;
      try {
        stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        continue;
      }
      const close = stat.lastIndexOf(')');
      if (!stat.slice(stat.indexOf('(') + 1, close).startsWith('postgres')) continue;
      const f = stat.slice(close + 2).split(' ');
      sum += Number(f[11]) + Number(f[12]);
    }
    return sum;
  } catch {
    return null;
  }
}

/** [busy, total] jiffies of the whole machine. */
function machineJiffies(): [number, number] | null {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = f.reduce((a, v) => a + v, 0);
    const idle = f[3] + (f[4] ?? 0);
    return [total - idle, total];
  } catch {
    return null;
  }
}

const CLK_TCK = 100;

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
    const t0 = Date.now();
    const database = await openDatabase({ databaseUrl: url });
    await database.migrate();
    await database.close();
    result.startupMs.migrate = Date.now() - t0;
    const t1 = Date.now();
    pub = await forkWorker('publisher', { DATABASE_URL: url }, 'notify publisher');
    result.startupMs.publisher = Date.now() - t1;
    let seq = 0;

    const runStep = async (k: number, rate: number | null, seconds: number, record: boolean): Promise<NotifyStep> => {
      assertNotAborting();
      const name = `s${seq++}-${crypto.randomBytes(2).toString('hex')}`;
      const active = listeners.slice(0, k);
      await Promise.all(active.map((l) => l.rpc.call('begin', { step: name })));
      const pg0 = postgresJiffies();
      const m0 = machineJiffies();
      const run: PublishRun = { step: name, rate, seconds, concurrency: o.concurrency };
      const pr = await pub!.rpc.call<PublishResult>('run', { ...run }, (seconds + 120) * 1000);
      // Every committed event must reach every listener; give them time to catch up.
      const deadline = Date.now() + 20_000;
      for (;;) {
        const got = await Promise.all(active.map((l) => l.rpc.call<{ received: number }>('progress')));
        if (got.every((g) => g.received >= pr.committed) || Date.now() > deadline) break;
        await sleep(50);
      }
      const pg1 = postgresJiffies();
      const m1 = machineJiffies();
      const reps = await Promise.all(active.map((l) => l.rpc.call<ListenerStep>('end')));
      const wallSec = Math.max(1e-9, ((reps.length ? Math.max(...reps.map((r) => r.lastRecv ?? pr.endedAt)) : pr.endedAt) - pr.startedAt) / 1000);
      const perListener = reps.map((r) => (r.lastRecv === null ? 0 : r.received / Math.max(1e-9, (r.lastRecv - pr.startedAt) / 1000)));
      const sorted = [...perListener].sort((a, b) => a - b);
      const lags = summarize(reps.flatMap((r) => r.lags));
      const tx = summarize(pr.txLatencies);
      // Open loop: per the step's duration (a publisher behind schedule stops at the end of it).
      const publishSec = rate === null ? Math.max(1e-9, (pr.endedAt - pr.startedAt) / 1000) : Math.max(seconds, (pr.endedAt - pr.startedAt) / 1000);
      const step: NotifyStep = {
        instances: k,
        targetRate: rate,
        seconds,
        concurrency: o.concurrency,
        committed: pr.committed,
        failed: pr.failed,
        publishErrors: pr.errors,
        committedPerSec: pr.committed / publishSec,
        deliveredPerSecMin: sorted.length ? sorted[0] : null,
        deliveredPerSecMedian: sorted.length ? sorted[Math.floor(sorted.length / 2)] : null,
        deliveriesPerSec: reps.length ? perListener.reduce((a, v) => a + v, 0) : null,
        lagP50Ms: lags.p50,
        lagP99Ms: lags.p99,
        lagMaxMs: lags.max,
        txP50Ms: tx.p50,
        txP99Ms: tx.p99,
        publisherBehindMs: pr.behindMs,
        lost: reps.reduce((a, r) => a + Math.max(0, pr.committed - r.received), 0),
        duplicates: reps.reduce((a, r) => a + r.duplicates, 0),
        allDelivered: reps.every((r) => r.received === pr.committed),
        wakesPerEvent: reps.length && pr.committed ? reps.reduce((a, r) => a + r.wakes, 0) / reps.length / pr.committed : null,
        readsPerEvent: reps.length && pr.committed ? reps.reduce((a, r) => a + r.reads, 0) / reps.length / pr.committed : null,
        listenerCpuPerEventUs: reps.length && pr.committed ? reps.reduce((a, r) => a + r.cpuUs, 0) / reps.length / pr.committed : null,
        publisherCpuPerEventUs: pr.committed ? pr.cpuUs / pr.committed : null,
        postgresCores: pg0 !== null && pg1 !== null ? (pg1 - pg0) / CLK_TCK / wallSec : null,
        machineBusy: m0 && m1 && m1[1] > m0[1] ? (m1[0] - m0[0]) / (m1[1] - m0[1]) : null,
        keptUp: false,
      };
      step.keptUp =
        rate !== null && step.committedPerSec >= 0.95 * rate && step.allDelivered && step.failed === 0 && (k === 0 || (step.lagP99Ms ?? Infinity) < 250);
      if (record) {
        result.steps.push(step);
        say(
          `K=${k} ${rate === null ? 'max' : `${rate}/s`}: committed ${step.committedPerSec.toFixed(0)}/s, ` +
            (k ? `slowest listener ${step.deliveredPerSecMin?.toFixed(0)}/s, lag p50 ${step.lagP50Ms?.toFixed(1)} p99 ${step.lagP99Ms?.toFixed(1)} ms, ` : '') +
            `tx p50 ${step.txP50Ms?.toFixed(1)} ms, postgres ${step.postgresCores?.toFixed(2)} cores, machine ${((step.machineBusy ?? 0) * 100).toFixed(0)}% busy` +
            (step.lost ? `, LOST ${step.lost}` : '') +
            (rate !== null ? (step.keptUp ? ' (kept up)' : ' (did NOT keep up)') : ''),
        );
      }
      return step;
    };

    for (const k of o.instances) {
      if (listeners.length < k) {
        say(`starting ${k - listeners.length} more listener processes (${k} in all)`);
        const t = Date.now();
        // A few at a time: each loads tsx and the server's modules.
        while (listeners.length < k) {
          const batch = Math.min(4, k - listeners.length);
          const started = await Promise.all(
            Array.from({ length: batch }, (_, i) =>
              forkWorker(
                'listener',
                { DATABASE_URL: url, RELAY_POLL_MS: '60000', WAKE_DEBOUNCE_MS: String(o.debounceMs) },
                `notify listener ${listeners.length + i + 1}`,
              ),
            ),
          );
          listeners.push(...started);
        }
        result.startupMs[`listeners${k}`] = Date.now() - t;
      }
      // Warm up (JIT, pools) on this configuration; not recorded.
      await runStep(k, 200, 0.5, false);
      let highestKeptUp: number | null = null;
      let firstFailed: number | null = null;
      for (const rate of o.rates) {
        const s = await runStep(k, rate, o.seconds, true);
        if (s.keptUp) highestKeptUp = rate;
        else {
          firstFailed = rate;
          // Higher fixed rates would only queue more; the max step measures the ceiling.
          break;
        }
      }
      const max = await runStep(k, null, o.seconds, true);
      result.saturation.push({
        instances: k,
        highestKeptUp,
        firstFailed,
        maxCommittedPerSec: max.committedPerSec,
        maxDeliveredPerSecMin: max.deliveredPerSecMin,
      });
    }
    // PostgreSQL's NOTIFY by itself, with our listeners gone (they would be woken too).
    await Promise.all(
      listeners.splice(0).map(async (l) => {
        await l.rpc.call('stop', {}, 10_000).catch(() => undefined);
        await l.stop();
      }),
    );
    for (const k of o.instances.filter((n) => n > 0)) {
      assertNotAborting();
      const w = await forkWorker('rawlisten', { DATABASE_URL: url, RAW_CONNECTIONS: String(k) }, `raw NOTIFY listener x${k}`);
      try {
        await w.rpc.call('begin');
        const pg0 = postgresJiffies();
        const m0 = machineJiffies();
        const pr = await pub.rpc.call<PublishResult>('raw', { seconds: o.seconds, concurrency: o.concurrency }, (o.seconds + 60) * 1000);
        const deadline = Date.now() + 10_000;
        while ((await w.rpc.call<{ received: number }>('progress')).received < pr.committed && Date.now() < deadline) await sleep(50);
        const pg1 = postgresJiffies();
        const m1 = machineJiffies();
        const rep = await w.rpc.call<RawListenStep>('end');
        const wallSec = Math.max(1e-9, ((rep.lastRecv ?? pr.endedAt) - pr.startedAt) / 1000);
        const lags = summarize(rep.lags);
        const minRecv = Math.min(...rep.received);
        const r: RawStep = {
          instances: k,
          seconds: o.seconds,
          concurrency: o.concurrency,
          sentPerSec: pr.committed / Math.max(1e-9, (pr.endedAt - pr.startedAt) / 1000),
          receivedPerSecMin: minRecv / wallSec,
          lagP50Ms: lags.p50,
          lagP99Ms: lags.p99,
          lost: rep.received.reduce((a, n) => a + Math.max(0, pr.committed - n), 0),
          postgresCores: pg0 !== null && pg1 !== null ? (pg1 - pg0) / CLK_TCK / wallSec : null,
          machineBusy: m0 && m1 && m1[1] > m0[1] ? (m1[0] - m0[0]) / (m1[1] - m0[1]) : null,
        };
        result.raw.push(r);
        say(
          `raw NOTIFY to ${k} connections: sent ${r.sentPerSec.toFixed(0)}/s, slowest connection ${r.receivedPerSecMin?.toFixed(0)}/s, ` +
            `lag p50 ${r.lagP50Ms?.toFixed(1)} p99 ${r.lagP99Ms?.toFixed(1)} ms, postgres ${r.postgresCores?.toFixed(2)} cores`,
        );
      } finally {
        await w.rpc.call('stop', {}, 10_000).catch(() => undefined);
        await w.stop();
      }
    }
  } finally {
    say('stopping workers');
    await Promise.all(listeners.map((l) => l.rpc.call('stop', {}, 10_000).catch(() => undefined)));
    await Promise.all(listeners.map((l) => l.stop()));
    await pub?.rpc.call('stop', {}, 10_000).catch(() => undefined);
    await pub?.stop();
    await db.drop();
  }
  return result;
}

export function notifyReport(r: NotifyResult): string[] {
  const out: string[] = [''];
  if (r.skipped) {
    out.push(`notify: SKIPPED: ${r.skipped}`, '');
    return out;
  }
  const o = r.options;
  out.push(
    `NOTIFY path: K listener processes (OutboxRelay + CommitListener, own pool each, fallback poll off) and one publisher ` +
      `process (EventPublisher, 1 event per transaction, ${o.concurrency} concurrent); ${o.seconds} s per step; ${r.database}; ` +
      (o.debounceMs > 0 ? `EXPERIMENT: listener wakes debounced by ${o.debounceMs} ms (not what the server does); ` : '') +
      `lag = publisher starts the transaction -> a listener's relay hands the event on`,
  );
  out.push('');
  const f = (v: number | null | undefined, d = 0) => (v === null || v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(d));
  const header = [
    'K',
    'target/s',
    'committed/s',
    'slowest inst. recv/s',
    'all deliveries/s',
    'lag p50 ms',
    'lag p99 ms',
    'lag max ms',
    'tx p50 ms',
    'wakes/event',
    'reads/event',
    'listener us/event',
    'publisher us/event',
    'postgres cores',
    'machine busy',
    'lost',
    'kept up',
  ];
  const body = r.steps.map((s) => [
    String(s.instances),
    s.targetRate === null ? 'max' : String(s.targetRate),
    f(s.committedPerSec),
    s.instances ? f(s.deliveredPerSecMin) : '-',
    s.instances ? f(s.deliveriesPerSec) : '-',
    s.instances ? f(s.lagP50Ms, 1) : '-',
    s.instances ? f(s.lagP99Ms, 1) : '-',
    s.instances ? f(s.lagMaxMs, 0) : '-',
    f(s.txP50Ms, 2),
    s.instances ? f(s.wakesPerEvent, 2) : '-',
    s.instances ? f(s.readsPerEvent, 2) : '-',
    s.instances ? f(s.listenerCpuPerEventUs, 0) : '-',
    f(s.publisherCpuPerEventUs, 0),
    f(s.postgresCores, 2),
    s.machineBusy === null ? 'n/a' : `${(s.machineBusy * 100).toFixed(0)}%`,
    s.instances ? String(s.lost + s.duplicates) : '-',
    s.targetRate === null ? '(ceiling)' : s.keptUp ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join(' | ');
  out.push(line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...body.map(line));
  out.push('');
  for (const s of r.saturation) {
    out.push(
      `notify K=${s.instances}: kept up through ${s.highestKeptUp ?? 'none'}/s` +
        (s.firstFailed !== null ? `, not at ${s.firstFailed}/s` : ' (every fixed rate tried)') +
        `; ceiling ${s.maxCommittedPerSec.toFixed(0)} committed/s` +
        (s.instances ? `, slowest instance received ${f(s.maxDeliveredPerSecMin)}/s` : ' (write path alone)'),
    );
  }
  if (r.raw.length) {
    out.push('');
    out.push(
      `PostgreSQL NOTIFY alone (no log, no relay): K plain connections LISTENing, ${o.concurrency} connections sending pg_notify as fast as they can (one transaction each)`,
    );
    out.push('');
    const h2 = ['K', 'sent/s', 'slowest conn. recv/s', 'lag p50 ms', 'lag p99 ms', 'lost', 'postgres cores', 'machine busy'];
    const b2 = r.raw.map((x) => [
      String(x.instances),
      f(x.sentPerSec),
      f(x.receivedPerSecMin),
      f(x.lagP50Ms, 1),
      f(x.lagP99Ms, 1),
      String(x.lost),
      f(x.postgresCores, 2),
      x.machineBusy === null ? 'n/a' : `${(x.machineBusy * 100).toFixed(0)}%`,
    ]);
    const w2 = h2.map((h, i) => Math.max(h.length, ...b2.map((b) => b[i].length)));
    const l2 = (cells: string[]) => cells.map((c, i) => c.padStart(w2[i])).join(' | ');
    out.push(l2(h2), w2.map((w) => '-'.repeat(w)).join('-|-'), ...b2.map(l2));
  }
  const errs = r.steps.filter((s) => s.failed);
  for (const s of errs) out.push(`  notify K=${s.instances} ${s.targetRate ?? 'max'}: ${s.failed} publish errors ${JSON.stringify(s.publishErrors)}`);
  out.push(`notify: startup ${JSON.stringify(r.startupMs)} ms; ${os.cpus().length} CPUs shared by every process above and PostgreSQL`);
  out.push('');
  return out;
}
