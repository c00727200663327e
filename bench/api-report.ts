/** The api phase's table, with the targets and the baseline beside ours, and the lines under it. */
import { columns, ratio } from './report';
import type { ApiResult, PollFigures, PollingSteps } from './api-load';

type ApiRow = [string, string, string, string, string, string];
/** Ours, the baseline, ours / baseline. */
type Values = [string, string, string];

/** One polling figure of a step: its name after the step's label, its unit and digits, and its target. */
interface PollFigure {
  what: string;
  unit: string;
  get: (x: PollFigures) => number | null;
  digits: number;
  target: string;
}

const f = (v: number | null | undefined, d = 1) => (v === null || v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(d));
const nonOk = (e: Record<string, number>) => Object.values(e).reduce((a, v) => a + v, 0);
const missed = (x: PollFigures) => x.lost + x.duplicates + x.outOfOrder;
const made = (mine: PollFigures, theirs: PollFigures | null | undefined) =>
  theirs ? `${mine.announcements} / ${theirs.announcements}` : `${mine.announcements}`;
const row = (metric: string, unit: string, values: Values, target: string): ApiRow => [metric, unit, ...values, target];

export function apiReport(r: ApiResult): string[] {
  const rows = [...pollingRows(r), ...(r.webhooks ? webhookRows(r.webhooks) : [])];
  return ['', summary(r), '', ...layout(r, rows), ...breakdownLines(r), ...errorAndWarningLines(r), ''];
}

function pollingRows(r: ApiResult): ApiRow[] {
  const p = r.polling;
  const q = r.pollingOpenLoop;
  const base = r.baseline;
  // The target is "at least 2,000 req/s with p99 at most 20 ms": the throughput half is
  // checked at saturation (closed loop), the latency half at 2,000/s offered (open loop). A
  // closed loop's latency is connections / throughput, so its p99 carries no target.
  const rows = stepRows(r, `polling (saturation, ${p.concurrency} connections, closed loop)`, (s) => s.polling, [
    { what: 'requests/s (GET /api/events?after=)', unit: 'req/s', get: (x) => x.perSec, digits: 0, target: '>= 2000' },
    { what: 'latency p50', unit: 'ms', get: (x) => x.p50Ms, digits: 2, target: '' },
    { what: 'latency p99', unit: 'ms', get: (x) => x.p99Ms, digits: 2, target: '' },
    ...checks(`${made(p, base?.polling)} made, ${p.users} users`),
  ]);
  if (!q) return rows;
  // Null for neither or both: the two sides run with the same --poll-rate.
  const openOf = (s: PollingSteps) => s.pollingOpenLoop!;
  return rows.concat(
    stepRows(r, `polling (at ${q.offeredPerSec}/s offered, open loop, from scheduled time)`, openOf, [
      { what: 'answered requests/s', unit: 'req/s', get: (x) => x.perSec, digits: 0, target: '' },
      { what: 'latency p50', unit: 'ms', get: (x) => x.p50Ms, digits: 2, target: '' },
      // The target is stated at 2,000/s; at a lower offered rate meeting it proves nothing.
      { what: 'latency p99', unit: 'ms', get: (x) => x.p99Ms, digits: 2, target: q.offeredPerSec >= 2000 ? '<= 20' : '' },
      { what: 'latency max', unit: 'ms', get: (x) => x.maxMs, digits: 1, target: '' },
      ...checks(`${made(q, base?.pollingOpenLoop)} made`),
    ]),
  );
}

/** Every polling step's last rows: server CPU, and the two counts that must be zero. */
const checks = (madeNote: string): PollFigure[] => [
  { what: 'server CPU per request', unit: 'us', get: (x) => x.serverCpuPerRequestUs, digits: 0, target: '' },
  { what: `announcements missed by a poller (${madeNote})`, unit: 'events', get: missed, digits: 0, target: '0' },
  { what: 'non-200 answers', unit: 'requests', get: (x) => nonOk(x.errors), digits: 0, target: '0' },
];

/**
 * Ours, the baseline and ours / baseline for each figure of one polling step. Counts whose target
 * is zero get no ratio: 0 / 0 or n / 0 says nothing the two figures do not.
 */
function stepRows(r: ApiResult, label: string, step: (s: PollingSteps) => PollFigures, figures: PollFigure[]): ApiRow[] {
  const base = r.baseline;
  return figures.map(({ what, unit, get, digits, target }) => {
    const mine = get(step(r));
    const theirs = base ? get(step(base)) : undefined;
    return row(`${label}: ${what}`, unit, [f(mine, digits), base ? f(theirs, digits) : '', base && target !== '0' ? ratio(mine, theirs) : ''], target);
  });
}

/** Our routes only: the baseline has no bookings, payments or ledger. */
function webhookRows(w: NonNullable<ApiResult['webhooks']>): ApiRow[] {
  const ours = (v: string): Values => [v, '', ''];
  const slow = `webhooks, every Paystack call ${w.slowPaystack.paystackMs} ms slow`;
  return [
    row(`webhooks: signed deliveries processed per second (${w.deliveries}, ${w.duplicatesSent} redelivered)`, 'per s', ours(f(w.perSec, 0)), '>= 500'),
    row('webhooks: delivery latency p50', 'ms', ours(f(w.p50Ms, 1)), ''),
    row('webhooks: delivery latency p99', 'ms', ours(f(w.p99Ms, 1)), ''),
    row('webhooks: server CPU per delivery', 'us', ours(f(w.serverCpuPerDeliveryUs, 0)), ''),
    row(`webhooks: payments not in ESCROW afterwards (of ${w.payments})`, 'payments', ours(String(w.notSettled)), '0'),
    row('webhooks: non-200 answers', 'requests', ours(String(nonOk(w.errors))), '0'),
    row('webhooks: ledger balanced afterwards', '', ours(String(w.ledgerBalanced)), 'true'),
    row(`${slow}: answer p50 (${w.slowPaystack.deliveries})`, 'ms', ours(f(w.slowPaystack.p50Ms, 1)), ''),
    row(`${slow}: answer p99`, 'ms', ours(f(w.slowPaystack.p99Ms, 1)), '<= 200'),
  ];
}

/** The header, its rule and the rows, in padded columns; without the baseline, its two columns go. */
function layout(r: ApiResult, rows: ApiRow[]): string[] {
  const base = r.baseline;
  const oursLabel = r.database.startsWith('pglite') ? 'ours (pglite)' : 'ours (postgres)';
  const header: ApiRow = ['metric', 'unit', oursLabel, 'baseline (raw node:http)', 'ours/baseline', 'target'];
  const keep = (c: string[]) => (base ? c : [...c.slice(0, 3), c[5]]);
  const table = [header, ...rows].map(keep);
  const numeric = new Set(base ? [2, 3, 4] : [2]);
  return columns(table, (i) => numeric.has(i));
}

/** What ran, in one line above the table. */
function summary(r: ApiResult): string {
  const p = r.polling;
  const q = r.pollingOpenLoop;
  const w = r.webhooks;
  return (
    `API load: own server and fresh database (${r.database}); polling ${p.users} users over ${p.concurrency} kept-alive connections for ${p.seconds.toFixed(1)} s ` +
    `with an announcement to all every 100 ms` +
    (q
      ? `; then ${q.scheduled} polls scheduled at ${q.offeredPerSec}/s over up to ${q.sockets} kept-alive sockets, each timed from its scheduled send time`
      : '') +
    (r.baseline ? '; the same polling steps against the baseline (bench/baseline-server.ts: raw node:http, the events in an array), right after ours' : '') +
    (w ? `; webhooks: ${w.payments} payments set up through the API in ${w.setupSeconds.toFixed(1)} s, then one burst, ${w.concurrency} at a time` : '')
  );
}

/** Each side's polling errors and where its open loop's time went. */
function breakdownLines(r: ApiResult): string[] {
  const out: string[] = [];
  const sides: Array<[string, PollingSteps]> = r.baseline
    ? [
        ['ours', r],
        ['baseline', r.baseline],
      ]
    : [['', r]];
  for (const [who, s] of sides) {
    const pre = who ? `${who}: ` : '';
    if (Object.keys(s.polling.errors).length) out.push(`  ${pre}polling errors: ${JSON.stringify(s.polling.errors)}`);
    const x = s.pollingOpenLoop;
    if (!x) continue;
    const b = x.breakdown;
    out.push(
      `  ${pre}open loop, where the time went (p99 of each, so they do not add up): sent late (timer, busy driver, or every user already polling) ${f(b.lateP99Ms, 2)} ms, ` +
        `waiting for a socket ${f(b.socketWaitP99Ms, 2)} ms, socket to answer p50 ${f(b.serviceP50Ms, 2)} / p99 ${f(b.serviceP99Ms, 2)} ms; ` +
        `server event loop delay p99 ${f(b.serverLoopDelayP99Ms, 1)} / max ${f(b.serverLoopDelayMaxMs, 1)} ms; ` +
        `driver event loop delay p99 ${f(b.driverLoopDelayP99Ms, 2)} ms, driver CPU per request ${f(b.driverCpuPerRequestUs, 0)} us; ` +
        `at most ${b.maxInFlight} in flight`,
    );
    if (Object.keys(x.errors).length) out.push(`  ${pre}open-loop polling errors: ${JSON.stringify(x.errors)}`);
  }
  return out;
}

function errorAndWarningLines(r: ApiResult): string[] {
  const out: string[] = [];
  const w = r.webhooks;
  const base = r.baseline;
  if (w && Object.keys(w.setupErrors).length) out.push(`  webhook setup errors: ${JSON.stringify(w.setupErrors)}`);
  if (w && Object.keys(w.errors).length) out.push(`  webhook errors: ${JSON.stringify(w.errors)}`);
  for (const x of r.server.startupWarnings) out.push(`  api server at startup: ${x}`);
  if (r.server.warningCount) out.push(`  api server logged ${r.server.warningCount} warn/error lines, first: ${r.server.warnings[0]}`);
  for (const x of base?.server.startupWarnings ?? []) out.push(`  api baseline server at startup: ${x}`);
  if (base?.server.warningCount) out.push(`  api baseline server logged ${base.server.warningCount} warn/error lines, first: ${base.server.warnings[0]}`);
  return out;
}
