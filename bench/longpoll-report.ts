/** The longpoll phase's printed report: each long-poll figure, what it is compared with in the same run, and the target last. */
import { columns, fmt } from './report';
import type { LongPollResult } from './longpoll';

/** metric | unit | long polls | streams / short polls | polls vs them | check | target */
type Cells = [string, string, string, string, string, string, string];

const HEADER: Cells = ['metric', 'unit', 'long polls', 'streams / short polls', 'polls vs them', 'check', 'target'];
/** The figures' columns, right-aligned. */
const NUMERIC = new Set([2, 3, 4]);

const times = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? 'n/a' : `${(a / b).toFixed(2)}x`);
const plus = (a: number | null, b: number | null) => (a === null || b === null ? 'n/a' : `${a - b >= 0 ? '+' : ''}${(a - b).toFixed(2)} ms`);
const verdict = (ok: boolean | null) => (ok === null ? 'n/a' : ok ? 'ok' : 'MISSED');
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
const ms = (seconds: number) => (seconds * 1e3).toFixed(0);

/** A figure held against a target: the check column says whether it met it. */
const checked = (metric: string, unit: string, cells: [string, string, string], ok: boolean | null, target: string): Cells => [
  metric,
  unit,
  ...cells,
  verdict(ok),
  target,
];

/** A figure with no target, beside what it is compared with, if anything; `note` stands in the target column. */
const shown = (metric: string, unit: string, value: string, other = '', vs = '', note = ''): Cells => [metric, unit, value, other, vs, '', note];

export function longPollReport(r: LongPollResult): string[] {
  const rows = [...capacityRows(r), ...latencyRows(r), ...cpuRows(r), ...idleRows(r), ...integrityRows(r)];
  return ['', intro(r), '', ...columns([HEADER, ...rows], (i) => NUMERIC.has(i)), summary(r), ...notes(r), ''];
}

const heldPolls = (r: LongPollResult) => r.polls.heldAfter - r.polls.heldBefore;

function capacityRows(r: LongPollResult): Cells[] {
  const m = r.memory;
  return [
    checked(
      'long polls held at once (one distinct user each)',
      'polls',
      [fmt(heldPolls(r), 0), `${fmt(r.streams.opened, 0)} streams`, ''],
      heldPolls(r) >= r.polls.requested,
      `>= ${r.polls.requested}`,
    ),
    shown('polls started / streams opened per second', 'per s', fmt(r.polls.perSec, 0), fmt(r.streams.perSec, 0), times(r.polls.perSec, r.streams.perSec)),
    checked(
      'heap per held poll / per open stream (after GC)',
      'KB',
      [fmt(m.perPollKB.heap, 2), fmt(m.perStreamKB.heap, 2), times(m.perPollKB.heap, m.perStreamKB.heap)],
      m.perPollKB.heap <= m.perStreamKB.heap,
      '<= 1.00x',
    ),
    // Shown, not checked: the process's resident pages depend on what it reserved and freed before
    // (the streams reuse pages the CPU blocks left), so RSS per item is no property of a poll or a
    // stream; the heap after a forced GC above is the target.
    shown(
      'RSS per held poll / per open stream',
      'KB',
      fmt(m.perPollKB.rss, 2),
      fmt(m.perStreamKB.rss, 2),
      times(m.perPollKB.rss, m.perStreamKB.rss),
      '(not a target)',
    ),
  ];
}

function latencyRows(r: LongPollResult): Cells[] {
  const { poll, stream } = r.latency;
  return [
    checked(
      'targeted event -> held poll / open stream, p50',
      'ms',
      [fmt(poll.p50Ms, 2), fmt(stream.p50Ms, 2), plus(poll.p50Ms, stream.p50Ms)],
      poll.p50Ms === null || stream.p50Ms === null ? null : poll.p50Ms - stream.p50Ms <= 1,
      '<= +1.00 ms',
    ),
    shown('targeted event -> held poll / open stream, p99', 'ms', fmt(poll.p99Ms, 2), fmt(stream.p99Ms, 2), plus(poll.p99Ms, stream.p99Ms)),
  ];
}

function cpuRows(r: LongPollResult): Cells[] {
  const c = r.cpu;
  return [
    checked(
      `server CPU per long-poll cycle, woken by an announcement to all / per short poll`,
      'us',
      [fmt(c.fanoutCycleUs, 0), fmt(c.shortPollUs, 0), times(c.fanoutCycleUs, c.shortPollUs)],
      c.fanoutRatio === null ? null : c.fanoutRatio <= 1.2,
      '<= 1.20x',
    ),
    shown(`  (an announcement to all with nobody listening, subtracted: ${c.users} cycles each)`, 'us', fmt(c.fanoutPublishUs, 0)),
    checked(
      'server CPU per long-poll cycle, woken by an event to its user / per short poll',
      'us',
      [fmt(c.cycleUs, 0), fmt(c.shortPollUs, 0), times(c.cycleUs, c.shortPollUs)],
      c.ratio === null ? null : c.ratio <= 1.2,
      '<= 1.20x',
    ),
    shown('  (publishing an event to one existing user who holds nothing, subtracted: 1 cycle each)', 'us', fmt(c.publishUs, 0)),
    shown(
      "the same cycle / a short poll that picks up its user's new event (publish subtracted)",
      'us',
      fmt(c.cycleUs, 0),
      fmt(c.shortWithEventUs, 0),
      times(c.cycleUs, c.shortWithEventUs),
    ),
  ];
}

function idleRows(r: LongPollResult): Cells[] {
  const id = r.idle;
  return [
    checked(
      `idle: requests per minute per client (${id.seconds} s, ${id.clients} clients)`,
      'req/min',
      [fmt(id.perClientPerMin, 2), '', ''],
      id.perClientPerMin <= id.targetPerMin,
      `<= 60/${r.waitS} + 1 = ${id.targetPerMin.toFixed(2)}`,
    ),
    shown('idle: server CPU per client per minute', 'ms', fmt(id.serverCpuMsPerClientPerMin, 2)),
  ];
}

/** A count that must be zero. */
const zero = (metric: string, unit: string, n: number): Cells => checked(metric, unit, [fmt(n, 0), '', ''], n === 0, '0');

function integrityRows(r: LongPollResult): Cells[] {
  const g = r.integrity;
  const lpErrors = Object.values(g.pollClient.errors).reduce((a, v) => a + v, 0);
  const pubErrors = Object.values(g.publishErrors).reduce((a, v) => a + v, 0);
  return [
    zero(`events lost (of ${g.expected} sent to polls and streams)`, 'events', g.lost),
    zero('duplicates / misdelivered', 'events', g.duplicates + g.misdelivered),
    zero('poll errors (non-200, socket) / publish errors', 'requests', lpErrors + pubErrors),
    zero('streams dropped during run', 'streams', g.streamClient.closedAfterOpen),
    zero('server warn/error log lines during run', 'lines', r.server.warningCount),
  ];
}

function intro(r: LongPollResult): string {
  const c = r.cpu;
  const L = r.latency;
  return (
    `Long polling: own server and fresh database (${r.database}), POLL_MAX_WAIT_S=${r.waitS}; ${r.streams.opened} streams, then ${heldPolls(r)} long polls ` +
    `held on top (long-poll-client.ts: one keep-alive connection per user, re-polling from the last id at once); ` +
    `CPU: ${c.rounds} rounds of ${c.events / c.rounds} events to ${c.users} held polls, as many to nobody, as many short polls, ` +
    `${c.fanouts / c.rounds} announcements to all ${c.users} of them; ` +
    `latency: ${L.poll.samples} + ${L.stream.samples} targeted events, alternately, one at a time`
  );
}

/** The line under the table: the figures behind the rows. */
function summary(r: LongPollResult): string {
  const m = r.memory;
  const L = r.latency;
  const c = r.cpu;
  return (
    `  longpoll: startup ${r.startupMs} ms; heap ${mb(m.start.heapUsedBytes)} -> ${mb(m.afterStreams.heapUsedBytes)} (streams) -> ${mb(m.afterPolls.heapUsedBytes)} MB (polls), ` +
    `RSS ${mb(m.start.rssBytes)} -> ${mb(m.afterStreams.rssBytes)} -> ${mb(m.afterPolls.rssBytes)} MB; ${r.polls.started} pollers started, all held after ${r.polls.startMs.toFixed(0)} ms; ` +
    `warm-up p50 poll ${fmt(L.warmupPollP50Ms, 2)} / stream ${fmt(L.warmupStreamP50Ms, 2)} ms; CPU blocks: targeted cycles ${ms(c.cycleSeconds)} ms, ` +
    `publishing alone ${ms(c.publishOnlySeconds)} ms, short polls ${ms(c.shortSeconds)} ms, ` +
    `events then short polls ${ms(c.shortWithEventSeconds)} ms (${c.shortWithEventPolls} polls for ${c.shortWithEvent} events), ` +
    `fan-out cycles ${ms(c.fanoutSeconds)} ms (${c.fanoutCycles} cycles; ${((c.fanoutSeconds * 1e6) / Math.max(1, c.fanoutCycles)).toFixed(0)} us each with nothing subtracted), ${c.fanouts} announcements to nobody ${((c.fanoutPublishUs * c.fanouts) / 1e3).toFixed(0)} ms; ` +
    `idle: ${r.idle.requests} requests, ${r.idle.answersWithEvents} answered with events; clock offsets ${r.clockOffsetMs.polls.toFixed(3)} / ${r.clockOffsetMs.streams.toFixed(3)} ms`
  );
}

/** What went wrong or looked odd, one line each, only when there is something. */
function notes(r: LongPollResult): string[] {
  const out: string[] = [];
  const pc = r.integrity.pollClient;
  if (Object.keys(pc.errors).length) out.push(`  longpoll client errors: ${JSON.stringify(pc.errors)}`);
  if (Object.keys(r.integrity.publishErrors).length) out.push(`  longpoll publish errors: ${JSON.stringify(r.integrity.publishErrors)}`);
  if (r.streams.failed) out.push(`  longpoll stream connect failures: ${JSON.stringify(r.streams.failures)}`);
  if (pc.malformed || pc.resets || Object.keys(pc.otherEvents).length) {
    out.push(`  longpoll client saw: malformed ${pc.malformed}, resets ${pc.resets}, other events ${JSON.stringify(pc.otherEvents)}`);
  }
  for (const x of r.server.startupWarnings) out.push(`  longpoll server at startup: ${x}`);
  if (r.server.warningCount) out.push(`  longpoll server logged ${r.server.warningCount} warn/error lines, first: ${r.server.warnings[0]}`);
  return out;
}
