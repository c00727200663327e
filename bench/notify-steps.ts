/**
 * One configuration of the `notify` phase (K listeners): its listeners started, a warm-up, the
 * ladder of fixed rates until one does not keep up, and the closed-loop "max" step.
 */
import { assertNotAborting } from './procs';
import { summarize } from './report';
import { sleep } from '../test/support/sleep';
import { cpuShares, sampleJiffies, type JiffySample } from './notify-cpu';
import { forkListeners, type Worker } from './notify-workers';
import { nextStepName, type NotifySession } from './notify-session';
import type { NotifyOptions, NotifyResult, NotifyStep } from './notify';
import type { ListenerStep, PublishResult, PublishRun } from './notify-worker';

export async function runConfiguration(s: NotifySession, k: number): Promise<void> {
  if (s.listeners.length < k) {
    s.say(`starting ${k - s.listeners.length} more listener processes (${k} in all)`);
    const t = Date.now();
    await forkListeners(s.listeners, k, { DATABASE_URL: s.url, RELAY_POLL_MS: '60000', WAKE_DEBOUNCE_MS: String(s.o.debounceMs) });
    s.result.startupMs[`listeners${k}`] = Date.now() - t;
  }
  // Warm up (JIT, pools) on this configuration; not recorded.
  await runStep(s, k, 200, 0.5, false);
  const ladder = await climbRates(s, k);
  const max = await runStep(s, k, null, s.o.seconds, true);
  s.result.saturation.push({ instances: k, ...ladder, maxCommittedPerSec: max.committedPerSec, maxDeliveredPerSecMin: max.deliveredPerSecMin });
}

type Ladder = Pick<NotifyResult['saturation'][number], 'highestKeptUp' | 'firstFailed'>;

/** The fixed rates in order, up to the first that does not keep up. */
async function climbRates(s: NotifySession, k: number): Promise<Ladder> {
  let highestKeptUp: number | null = null;
  let firstFailed: number | null = null;
  for (const rate of s.o.rates) {
    const step = await runStep(s, k, rate, s.o.seconds, true);
    if (step.keptUp) highestKeptUp = rate;
    else {
      firstFailed = rate;
      // Higher fixed rates would only queue more; the max step measures the ceiling.
      break;
    }
  }
  return { highestKeptUp, firstFailed };
}

async function runStep(s: NotifySession, k: number, rate: number | null, seconds: number, record: boolean): Promise<NotifyStep> {
  const step = stepFigures(s.o, k, rate, seconds, await publishStep(s, k, rate, seconds));
  step.keptUp =
    rate !== null && step.committedPerSec >= 0.95 * rate && step.allDelivered && step.failed === 0 && (k === 0 || (step.lagP99Ms ?? Infinity) < 250);
  if (record) {
    s.result.steps.push(step);
    s.say(stepLine(step));
  }
  return step;
}

/** What one step's window saw: the publisher's run, each listener's, and the CPU counters either side. */
interface StepWindow {
  pr: PublishResult;
  reps: ListenerStep[];
  before: JiffySample;
  after: JiffySample;
}

/** The window opens once the first K listeners count the step, and closes once they have every event (or the wait runs out). */
async function publishStep(s: NotifySession, k: number, rate: number | null, seconds: number): Promise<StepWindow> {
  assertNotAborting();
  const name = nextStepName(s);
  const active = s.listeners.slice(0, k);
  await Promise.all(active.map((l) => l.rpc.call('begin', { step: name })));
  const before = sampleJiffies();
  const run: PublishRun = { step: name, rate, seconds, concurrency: s.o.concurrency };
  const pr = await s.pub.rpc.call<PublishResult>('run', { ...run }, (seconds + 120) * 1000);
  await awaitListeners(active, pr.committed);
  const after = sampleJiffies();
  const reps = await Promise.all(active.map((l) => l.rpc.call<ListenerStep>('end')));
  return { pr, reps, before, after };
}

/** Every committed event must reach every listener; give them time to catch up. */
async function awaitListeners(active: Worker[], committed: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const got = await Promise.all(active.map((l) => l.rpc.call<{ received: number }>('progress')));
    if (got.every((g) => g.received >= committed) || Date.now() > deadline) break;
    await sleep(50);
  }
}

/** The step's figures; whether it kept up is the caller's to judge. */
function stepFigures(o: NotifyOptions, k: number, rate: number | null, seconds: number, { pr, reps, before, after }: StepWindow): NotifyStep {
  const wallSec = Math.max(1e-9, ((reps.length ? Math.max(...reps.map((r) => r.lastRecv ?? pr.endedAt)) : pr.endedAt) - pr.startedAt) / 1000);
  const perListener = reps.map((r) => (r.lastRecv === null ? 0 : r.received / Math.max(1e-9, (r.lastRecv - pr.startedAt) / 1000)));
  const sorted = [...perListener].sort((a, b) => a - b);
  const lags = summarize(reps.flatMap((r) => r.lags));
  const tx = summarize(pr.txLatencies);
  // Open loop: per the step's duration (a publisher behind schedule stops at the end of it).
  const publishSec = rate === null ? Math.max(1e-9, (pr.endedAt - pr.startedAt) / 1000) : Math.max(seconds, (pr.endedAt - pr.startedAt) / 1000);
  const perEvent = (f: (r: ListenerStep) => number) => (reps.length && pr.committed ? reps.reduce((a, r) => a + f(r), 0) / reps.length / pr.committed : null);
  return {
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
    wakesPerEvent: perEvent((r) => r.wakes),
    readsPerEvent: perEvent((r) => r.reads),
    listenerCpuPerEventUs: perEvent((r) => r.cpuUs),
    publisherCpuPerEventUs: pr.committed ? pr.cpuUs / pr.committed : null,
    ...cpuShares(before, after, wallSec),
    keptUp: false,
  };
}

function stepLine(step: NotifyStep): string {
  const k = step.instances;
  const rate = step.targetRate;
  return (
    `K=${k} ${rate === null ? 'max' : `${rate}/s`}: committed ${step.committedPerSec.toFixed(0)}/s, ` +
    (k ? `slowest listener ${step.deliveredPerSecMin?.toFixed(0)}/s, lag p50 ${step.lagP50Ms?.toFixed(1)} p99 ${step.lagP99Ms?.toFixed(1)} ms, ` : '') +
    `tx p50 ${step.txP50Ms?.toFixed(1)} ms, postgres ${step.postgresCores?.toFixed(2)} cores, machine ${((step.machineBusy ?? 0) * 100).toFixed(0)}% busy` +
    (step.lost ? `, LOST ${step.lost}` : '') +
    (rate !== null ? (step.keptUp ? ' (kept up)' : ' (did NOT keep up)') : '')
  );
}
