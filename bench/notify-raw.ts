/** PostgreSQL's NOTIFY alone in the `notify` phase: K plain connections LISTENing, closed-loop pg_notify. */
import { assertNotAborting } from './procs';
import { summarize } from './report';
import { sleep } from '../test/support/sleep';
import { cpuShares, sampleJiffies } from './notify-cpu';
import { forkWorker, stopWorker, type Worker } from './notify-workers';
import type { NotifySession } from './notify-session';
import type { RawStep } from './notify';
import type { PublishResult, RawListenStep } from './notify-worker';

export async function runRawStep(s: NotifySession, k: number): Promise<void> {
  assertNotAborting();
  const w = await forkWorker('rawlisten', { DATABASE_URL: s.url, RAW_CONNECTIONS: String(k) }, `raw NOTIFY listener x${k}`);
  try {
    const r = await measureRaw(s, w, k);
    s.result.raw.push(r);
    s.say(
      `raw NOTIFY to ${k} connections: sent ${r.sentPerSec.toFixed(0)}/s, slowest connection ${r.receivedPerSecMin?.toFixed(0)}/s, ` +
        `lag p50 ${r.lagP50Ms?.toFixed(1)} p99 ${r.lagP99Ms?.toFixed(1)} ms, postgres ${r.postgresCores?.toFixed(2)} cores`,
    );
  } finally {
    await stopWorker(w);
  }
}

/** The window opens once the connections count, and closes once the slowest has every notification (or the wait runs out). */
async function measureRaw(s: NotifySession, w: Worker, k: number): Promise<RawStep> {
  await w.rpc.call('begin');
  const before = sampleJiffies();
  const pr = await s.pub.rpc.call<PublishResult>('raw', { seconds: s.o.seconds, concurrency: s.o.concurrency }, (s.o.seconds + 60) * 1000);
  const deadline = Date.now() + 10_000;
  while ((await w.rpc.call<{ received: number }>('progress')).received < pr.committed && Date.now() < deadline) await sleep(50);
  const after = sampleJiffies();
  const rep = await w.rpc.call<RawListenStep>('end');
  const wallSec = Math.max(1e-9, ((rep.lastRecv ?? pr.endedAt) - pr.startedAt) / 1000);
  const lags = summarize(rep.lags);
  const minRecv = Math.min(...rep.received);
  return {
    instances: k,
    seconds: s.o.seconds,
    concurrency: s.o.concurrency,
    sentPerSec: pr.committed / Math.max(1e-9, (pr.endedAt - pr.startedAt) / 1000),
    receivedPerSecMin: minRecv / wallSec,
    lagP50Ms: lags.p50,
    lagP99Ms: lags.p99,
    lost: rep.received.reduce((a, n) => a + Math.max(0, pr.committed - n), 0),
    ...cpuShares(before, after, wallSec),
  };
}
