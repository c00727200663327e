/** The `notify` phase's printed report: the steps per K, where each K saturates, and NOTIFY alone. */
import os from 'node:os';
import type { NotifyOptions, NotifyResult, NotifyStep, RawStep } from './notify';
import { columns } from './report';

export function notifyReport(r: NotifyResult): string[] {
  const out: string[] = [''];
  if (r.skipped) {
    out.push(`notify: SKIPPED: ${r.skipped}`, '');
    return out;
  }
  const o = r.options;
  out.push(intro(r, o));
  out.push('');
  out.push(...columns([STEP_HEADER, ...r.steps.map(stepCells)], () => true));
  out.push('');
  out.push(...r.saturation.map(saturationLine));
  if (r.raw.length) {
    out.push('');
    out.push(
      `PostgreSQL NOTIFY alone (no log, no relay): K plain connections LISTENing, ${o.concurrency} connections sending pg_notify as fast as they can (one transaction each)`,
    );
    out.push('');
    out.push(...columns([RAW_HEADER, ...r.raw.map(rawCells)], () => true));
  }
  const errs = r.steps.filter((s) => s.failed);
  for (const s of errs) out.push(`  notify K=${s.instances} ${s.targetRate ?? 'max'}: ${s.failed} publish errors ${JSON.stringify(s.publishErrors)}`);
  out.push(`notify: startup ${JSON.stringify(r.startupMs)} ms; ${os.cpus().length} CPUs shared by every process above and PostgreSQL`);
  out.push('');
  return out;
}

function intro(r: NotifyResult, o: NotifyOptions): string {
  return (
    `NOTIFY path: K listener processes (OutboxRelay + CommitListener, own pool each, fallback poll off) and one publisher ` +
    `process (EventPublisher, 1 event per transaction, ${o.concurrency} concurrent); ${o.seconds} s per step; ${r.database}; ` +
    (o.debounceMs > 0 ? `EXPERIMENT: listener wakes debounced by ${o.debounceMs} ms (not what the server does); ` : '') +
    `lag = publisher starts the transaction -> a listener's relay hands the event on`
  );
}

const f = (v: number | null | undefined, d = 0) => (v === null || v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(d));
const busy = (v: number | null) => (v === null ? 'n/a' : `${(v * 100).toFixed(0)}%`);

const STEP_HEADER = [
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

/** A listener's figures are a dash at K=0: there is no listener. */
function stepCells(s: NotifyStep): string[] {
  return [
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
    busy(s.machineBusy),
    s.instances ? String(s.lost + s.duplicates) : '-',
    s.targetRate === null ? '(ceiling)' : s.keptUp ? 'yes' : 'NO',
  ];
}

function saturationLine(s: NotifyResult['saturation'][number]): string {
  return (
    `notify K=${s.instances}: kept up through ${s.highestKeptUp ?? 'none'}/s` +
    (s.firstFailed !== null ? `, not at ${s.firstFailed}/s` : ' (every fixed rate tried)') +
    `; ceiling ${s.maxCommittedPerSec.toFixed(0)} committed/s` +
    (s.instances ? `, slowest instance received ${f(s.maxDeliveredPerSecMin)}/s` : ' (write path alone)')
  );
}

const RAW_HEADER = ['K', 'sent/s', 'slowest conn. recv/s', 'lag p50 ms', 'lag p99 ms', 'lost', 'postgres cores', 'machine busy'];

function rawCells(x: RawStep): string[] {
  return [
    String(x.instances),
    f(x.sentPerSec),
    f(x.receivedPerSecMin),
    f(x.lagP50Ms, 1),
    f(x.lagP99Ms, 1),
    String(x.lost),
    f(x.postgresCores, 2),
    busy(x.machineBusy),
  ];
}
