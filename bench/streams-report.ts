/** The streams comparison's table (ours beside the baselines) and the lines under it. */
import os from 'node:os';
import { median, table, type Row } from './report';
import { serversCompiled } from './procs';
import type { Options, TargetName } from './options';
import type { TargetResult } from './streams';

interface RowDef {
  metric: string;
  unit: string;
  f: (r: TargetResult) => number | null;
  better: Row['better'];
  digits: number;
  /** Across rounds: the median of a measurement, the sum of a count (losses add up). */
  agg: 'median' | 'sum';
}

function rowDefs(n: number): RowDef[] {
  const m = (metric: string, unit: string, f: RowDef['f'], better: Row['better'], digits = 1): RowDef => ({ metric, unit, f, better, digits, agg: 'median' });
  const c = (metric: string, unit: string, f: RowDef['f'], better: Row['better']): RowDef => ({ metric, unit, f, better, digits: 0, agg: 'sum' });
  return [
    m('connections held', `of ${n}`, (r) => r.connect.opened, 'higher', 0),
    c('connect failures', 'streams', (r) => r.connect.failed, 'zero'),
    m('connect rate', 'conn/s', (r) => r.connect.ratePerSec, 'higher', 0),
    m('server CPU per connect', 'us', (r) => r.connect.cpuPerConnectUs, 'lower', 0),
    m('heap per connection (after GC)', 'KB', (r) => r.memory.heapPerConnKB, 'lower', 2),
    m('RSS per connection', 'KB', (r) => r.memory.rssPerConnKB, 'lower', 2),
    m('publish->receive p50 (warm-up: first after connecting)', 'ms', (r) => r.warmup.p50Ms, 'lower', 2),
    m('publish->receive p50 (1 user, idle)', 'ms', (r) => r.latency.p50Ms, 'lower', 2),
    m('publish->receive p99 (1 user, idle)', 'ms', (r) => r.latency.p99Ms, 'lower', 2),
    m('POST /api/broadcasts round trip p50', 'ms', (r) => r.publishRtt.p50Ms, 'lower', 2),
    m('fan-out to all, POST->last recv (median)', 'ms', (r) => r.fanout.medianMs, 'lower', 1),
    m('fan-out to all, POST->last recv (worst)', 'ms', (r) => r.fanout.maxMs, 'lower', 1),
    m('fan-out recipient latency p50', 'ms', (r) => r.fanout.recipientP50Ms, 'lower', 1),
    m('server CPU per fan-out delivery', 'us', (r) => r.fanout.cpuPerDeliveryUs, 'lower', 1),
    m('sustained: publishes accepted', 'events/s', (r) => r.sustained.publishPerSec, 'higher', 0),
    m('sustained: received at client', 'events/s', (r) => r.sustained.deliveredPerSec, 'higher', 0),
    m('sustained: busiest second received', 'events', (r) => r.sustained.peakPerSec, 'higher', 0),
    m('sustained: publish->receive p50', 'ms', (r) => r.sustained.latencyP50Ms, 'lower', 1),
    m('sustained: publish->receive p99', 'ms', (r) => r.sustained.latencyP99Ms, 'lower', 1),
    m('server CPU per sustained event', 'us', (r) => r.sustained.cpuPerEventUs, 'lower', 0),
    c('events expected by clients', 'events', (r) => r.integrity.expected, ''),
    c('events lost (after dedupe by id)', 'events', (r) => r.integrity.lost, 'zero'),
    c('duplicates', 'events', (r) => r.integrity.duplicates, 'zero'),
    c('misdelivered / unexpected', 'events', (r) => r.integrity.misdelivered + r.integrity.unexpected, 'zero'),
    c('publish errors', 'requests', (r) => Object.values(r.integrity.publishErrors).reduce((a, x) => a + x, 0), 'zero'),
    c('streams dropped during run', 'streams', (r) => r.integrity.streamsDroppedDuringRun, 'zero'),
    c('server warn/error log lines during run', 'lines', (r) => r.server.warningCount, 'zero'),
  ];
}

export function rows(ours: TargetResult[], baseline: TargetResult[], socketio: TargetResult[], n: number): Row[] {
  return rowDefs(n).map((d) => {
    const agg = (list: TargetResult[]) => {
      const vals = list.map(d.f).filter((v): v is number => v !== null && !Number.isNaN(v));
      if (vals.length === 0) return null;
      return d.agg === 'sum' ? vals.reduce((a, v) => a + v, 0) : median(vals);
    };
    return { metric: d.metric, unit: d.unit, ours: agg(ours), baseline: agg(baseline), socketio: agg(socketio), better: d.better, digits: d.digits };
  });
}

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

/** The comparison's heading, table and per-side notes; nothing when no side ran. */
export function comparisonReport(results: Record<TargetName, TargetResult[]>, tableRows: Row[], opts: Options, connections: number): string[] {
  const oursLabel = results.ours.length ? (opts.embedded ? 'ours (pglite)' : 'ours (postgres)') : 'ours';
  const out: string[] = [];
  if (results.ours.length + results.baseline.length + results.socketio.length === 0) return out;
  out.push('');
  out.push(
    `Benchmark: ${connections} SSE streams, ${opts.latencySamples} latency samples after ${opts.latencyWarmup} untimed, ${opts.fanouts} fan-outs, ` +
      `${opts.events} sustained events (${opts.publishers} publishers)` +
      `${opts.payloadBytes ? `, bodies padded by ${opts.payloadBytes} chars` : ''}; ${os.cpus().length} CPUs, node ${process.version}, ` +
      `load client in its own process; servers ${serversCompiled() ? 'compiled with tsc (as production)' : 'from sources under tsx'}` +
      (opts.rounds > 1 ? `; medians of ${opts.rounds} rounds (counts are totals)` : ''),
  );
  out.push('');
  out.push(table(tableRows, oursLabel, 'baseline (raw node:http)', results.socketio.length ? 'socket.io 4 (rooms)' : undefined));
  out.push('');
  for (const r of [...results.ours, ...results.baseline, ...results.socketio]) out.push(...sideNotes(r));
  return out;
}

/** One side's figures that are not in the table, and anything that went wrong. */
function sideNotes(r: TargetResult): string[] {
  const out: string[] = [];
  out.push(
    `${r.name}: startup ${r.startupMs} ms; heap ${mb(r.memory.before.heapUsedBytes)} -> ${mb(r.memory.after.heapUsedBytes)} MB, ` +
      `RSS ${mb(r.memory.before.rssBytes)} -> ${mb(r.memory.after.rssBytes)} MB; ` +
      `fan-out rounds ${r.fanout.rounds.map((x) => (x.lastMs === null ? 'n/a' : x.lastMs.toFixed(0))).join('/')} ms; ` +
      `sustained published in ${r.sustained.publishSeconds.toFixed(2)} s, per second received [${r.sustained.perSecond.join(', ')}]; ` +
      `open at end ${r.integrity.openAtEnd}; clock offset to client ${r.clock.offsetMs.toFixed(3)} ms (rtt ${r.clock.rttMs.toFixed(3)})`,
  );
  for (const w of r.server.startupWarnings) out.push(`  ${r.name} server at startup: ${w}`);
  if (r.server.warningCount > 0) out.push(`  ${r.name} server logged ${r.server.warningCount} warn/error lines, first: ${r.server.warnings[0]}`);
  if (r.connect.failed > 0) out.push(`  ${r.name} connect failures: ${JSON.stringify(r.connect.failures)}`);
  if (Object.keys(r.integrity.publishErrors).length) out.push(`  ${r.name} publish errors: ${JSON.stringify(r.integrity.publishErrors)}`);
  const c = r.integrity.client;
  if (c.malformed || c.idMismatch || Object.keys(c.otherEvents).length || Object.keys(c.errorsAfterOpen).length) {
    out.push(
      `  ${r.name} client saw: malformed ${c.malformed}, id mismatch ${c.idMismatch}, other events ${JSON.stringify(c.otherEvents)}, ` +
        `errors after open ${JSON.stringify(c.errorsAfterOpen)}`,
    );
  }
  return out;
}
