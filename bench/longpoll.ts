/**
 * The `longpoll` phase of `npm run bench` (`--only longpoll`): long polls (`GET /api/events?after=
 * <id>&wait=<s>`) next to open streams and short polls, on one server (src/server.ts) with its own
 * fresh database, POLL_RATE_LIMIT_PER_MIN out of the way and POLL_MAX_WAIT_S set by the run.
 *
 * - CPU per long-poll cycle: P users hold long polls (long-poll-client.ts); events to them one
 *   user at a time, 4 publishers, each answered poll followed by the client's next poll, which is
 *   held again. The same number of events to users that hold nothing (but exist, and so get the
 *   same notification and its delivery work) gives the publishing cost, which is subtracted; P
 *   other users short-poll (`?after=`, no wait) as many times, closed loop over 4 kept-alive
 *   connections. The three blocks alternate, in rounds, so that a busy moment
 *   of the machine falls on all of them; each block's CPU is read from /metrics around it.
 * - memory: S streams (load-client.ts), then N long polls of N more distinct users on top, each
 *   delta read after a forced GC; per held poll = delta / polls held (from /api/status).
 * - latency: one targeted event at a time, alternately to a random held poll and a random open
 *   stream (the next only after the previous arrived), after an untimed warm-up of the same.
 * - idle: every poller left alone for a window of whole POLL_MAX_WAIT_S cycles: requests each
 *   client sent per minute, and the server's CPU for them.
 * - integrity: every event each poll or stream was sent arrived, once, to its user only.
 *
 * This file holds the phase's shapes, its server's start and stop and the order of its steps; the
 * steps are longpoll-cpu.ts (with longpoll-cpu-blocks.ts, its blocks), longpoll-memory.ts,
 * longpoll-latency.ts, longpoll-idle.ts and longpoll-tally.ts, and what they share is
 * longpoll-session.ts.
 */
import path from 'node:path';
import type { ClientStatus } from './protocol';
import { measureClock, isAborting, startLoadClient, startServerProcess, ROOT, type ServerProc, type PrepareDatabase } from './procs';
import { fmt } from './report';
import type { LongPollStatus } from './long-poll-client';
import { LongPollSession, makeLongPollUsers } from './longpoll-session';
import { DISPATCH_TICK_MS } from './longpoll-cpu-blocks';
import { runCpu } from './longpoll-cpu';
import { memoryFigures, runMemory } from './longpoll-memory';
import { latencyFigures, runLatency } from './longpoll-latency';
import { idleFigures, runIdle } from './longpoll-idle';
import { integrityFigures, tally } from './longpoll-tally';
import { freePort } from '../test/support/free-port';
import { sleep } from '../test/support/sleep';

export interface LongPollOptions {
  /** Long polls held at once, one distinct user each. */
  polls: number;
  /** Open streams beside them, for the memory and latency comparison. */
  streams: number;
  /** POLL_MAX_WAIT_S for the run, and the `wait` every poll asks for. */
  waitS: number;
  /** The idle window (s). */
  idleSeconds: number;
  /** Events (and short polls) in the CPU comparison, and the users that share them. */
  cycles: number;
  cycleUsers: number;
  latencySamples: number;
  latencyWarmup: number;
  connectConcurrency: number;
  embedded: boolean;
  profile: boolean;
  /** Heap snapshots of the server after the streams and after the polls, to bench/results/heap/. */
  heapSnapshots: boolean;
  seed: number;
}

export interface LongPollDeps {
  jwtSecret: string;
  progress: (msg: string) => void;
  prepareDatabase: PrepareDatabase;
}

interface Latency {
  samples: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export interface LongPollResult {
  database: string;
  waitS: number;
  startupMs: number;
  clockOffsetMs: { polls: number; streams: number };
  polls: { requested: number; started: number; startMs: number; heldBefore: number; heldAfter: number; perSec: number };
  streams: { requested: number; opened: number; failed: number; failures: Record<string, number>; connectMs: number; perSec: number };
  memory: {
    start: { rssBytes: number; heapUsedBytes: number };
    afterStreams: { rssBytes: number; heapUsedBytes: number };
    afterPolls: { rssBytes: number; heapUsedBytes: number };
    perStreamKB: { rss: number; heap: number };
    perPollKB: { rss: number; heap: number };
  };
  latency: { poll: Latency; stream: Latency; warmupPollP50Ms: number | null; warmupStreamP50Ms: number | null };
  cpu: {
    rounds: number;
    /** Users holding long polls in the cycle blocks, and users short-polling. */
    users: number;
    events: number;
    shortPolls: number;
    /** Server CPU per block, summed over the rounds (s). */
    publishOnlySeconds: number;
    cycleSeconds: number;
    shortSeconds: number;
    /** Events to short-polling users, each followed by its user's polls until one returns it (s); events picked up, polls made. */
    shortWithEventSeconds: number;
    shortWithEvent: number;
    shortWithEventPolls: number;
    /** Announcements to all with nobody listening, and with every cycle user's poll held (s). */
    fanoutPublishSeconds: number;
    fanoutSeconds: number;
    fanouts: number;
    fanoutCycles: number;
    publishUs: number;
    cycleUs: number;
    shortPollUs: number;
    shortWithEventUs: number;
    fanoutPublishUs: number;
    fanoutCycleUs: number;
    /** Targeted cycles / short polls, and fan-out cycles / short polls. */
    ratio: number | null;
    fanoutRatio: number | null;
  };
  idle: {
    seconds: number;
    clients: number;
    requests: number;
    perClientPerMin: number;
    targetPerMin: number;
    answersWithEvents: number;
    serverCpuMsPerClientPerMin: number;
  };
  integrity: {
    expected: number;
    received: number;
    lost: number;
    duplicates: number;
    misdelivered: number;
    publishErrors: Record<string, number>;
    pollClient: LongPollStatus;
    streamClient: ClientStatus;
  };
  server: { startupWarnings: string[]; warningCount: number; warnings: string[] };
}

export async function runLongPoll(o: LongPollOptions, deps: LongPollDeps): Promise<LongPollResult> {
  let server: ServerProc | undefined;
  try {
    return await measureLongPoll(o, deps, (s) => (server = s));
  } catch (err) {
    const why = server?.exitReport();
    if (why && !isAborting()) throw new Error(why, { cause: err });
    throw err;
  }
}

type Database = Awaited<ReturnType<PrepareDatabase>>;

async function measureLongPoll(o: LongPollOptions, deps: LongPollDeps, onServer: (s: ServerProc) => void): Promise<LongPollResult> {
  const say = (msg: string) => deps.progress(`[longpoll] ${msg}`);
  const users = makeLongPollUsers(o, deps.jwtSecret);
  const { server, db, startupMs } = await startLongPollServer(o, deps, say, onServer);
  const lp = await startLoadClient('long-poll-client.ts');
  const sc = await startLoadClient();
  const s = new LongPollSession(o, say, server, lp, sc, users);
  try {
    const clockOffsetMs = { polls: (await measureClock(lp)).offsetMs, streams: (await measureClock(sc)).offsetMs };
    const { cpu, shortErrors } = await runCpu(s);
    const memory = await runMemory(s);
    await runLatency(s, memory.conn.openedIndices);
    const idle = await runIdle(s);
    await sleep(300);
    const t = await tally(s);
    await stopLongPoll(s, db);
    return {
      database: db.kind,
      waitS: o.waitS,
      startupMs,
      clockOffsetMs,
      ...memoryFigures(o, memory),
      latency: latencyFigures(o, t.reports),
      cpu,
      idle: idleFigures(o, idle),
      integrity: integrityFigures(s, t, shortErrors),
      server: { startupWarnings: server.startupWarnings, warningCount: server.warningCount, warnings: server.warnings },
    };
  } finally {
    s.close();
  }
}

/** The phase's server on a fresh database of its own; `onServer` hears of it as soon as it runs. */
async function startLongPollServer(
  o: LongPollOptions,
  deps: LongPollDeps,
  say: (msg: string) => void,
  onServer: (s: ServerProc) => void,
): Promise<{ server: ServerProc; db: Database; startupMs: number }> {
  const db = await deps.prepareDatabase(o.embedded);
  const port = await freePort();
  say(`starting server on :${port} (${db.kind}), POLL_MAX_WAIT_S=${o.waitS}`);
  const t0 = Date.now();
  const server = await startServerProcess({
    name: 'server (src/server.ts, longpoll)',
    entry: 'src/server.ts',
    env: {
      PORT: String(port),
      JWT_SECRET: deps.jwtSecret,
      LOG_LEVEL: 'warn',
      POLL_RATE_LIMIT_PER_MIN: '1000000',
      POLL_MAX_WAIT_S: String(o.waitS),
      // A publish's notification is delivered (or skipped) by the dispatcher on its next tick: a
      // short tick lets each CPU block wait for its own dispatcher work (see CpuBlocks.timed).
      DISPATCH_POLL_MS: String(DISPATCH_TICK_MS),
      ...db.env,
    },
    port,
    readyPath: '/readyz',
    nodeArgs: o.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(ROOT, 'bench', 'results', 'profiles', 'longpoll')}`] : [],
  });
  onServer(server);
  return { server, db, startupMs: Date.now() - t0 };
}

async function stopLongPoll(s: LongPollSession, db: Database): Promise<void> {
  s.say('stopping');
  await s.lp.rpc.call('close').catch(() => undefined);
  await s.sc.rpc.call('close').catch(() => undefined);
  await s.lp.stop();
  await s.sc.stop();
  await s.server.stop();
  await db.drop();
}

/** The phase's table: each long-poll figure, what it is compared with in the same run, and the target last. */
export function longPollReport(r: LongPollResult): string[] {
  const f = (v: number | null | undefined, d = 1) => fmt(v, d);
  const times = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? 'n/a' : `${(a / b).toFixed(2)}x`);
  const plus = (a: number | null, b: number | null) => (a === null || b === null ? 'n/a' : `${a - b >= 0 ? '+' : ''}${(a - b).toFixed(2)} ms`);
  const check = (ok: boolean | null) => (ok === null ? 'n/a' : ok ? 'ok' : 'MISSED');
  const m = r.memory;
  const L = r.latency;
  const c = r.cpu;
  const id = r.idle;
  const heldPolls = r.polls.heldAfter - r.polls.heldBefore;
  const lpErrors = Object.values(r.integrity.pollClient.errors).reduce((a, v) => a + v, 0);
  const pubErrors = Object.values(r.integrity.publishErrors).reduce((a, v) => a + v, 0);
  type R = [string, string, string, string, string, string, string];
  const rows: R[] = [
    [
      'long polls held at once (one distinct user each)',
      'polls',
      f(heldPolls, 0),
      `${f(r.streams.opened, 0)} streams`,
      '',
      check(heldPolls >= r.polls.requested),
      `>= ${r.polls.requested}`,
    ],
    ['polls started / streams opened per second', 'per s', f(r.polls.perSec, 0), f(r.streams.perSec, 0), times(r.polls.perSec, r.streams.perSec), '', ''],
    [
      'heap per held poll / per open stream (after GC)',
      'KB',
      f(m.perPollKB.heap, 2),
      f(m.perStreamKB.heap, 2),
      times(m.perPollKB.heap, m.perStreamKB.heap),
      check(m.perPollKB.heap <= m.perStreamKB.heap),
      '<= 1.00x',
    ],
    [
      'RSS per held poll / per open stream',
      'KB',
      f(m.perPollKB.rss, 2),
      f(m.perStreamKB.rss, 2),
      times(m.perPollKB.rss, m.perStreamKB.rss),
      check(m.perPollKB.rss <= m.perStreamKB.rss),
      '<= 1.00x',
    ],
    [
      'targeted event -> held poll / open stream, p50',
      'ms',
      f(L.poll.p50Ms, 2),
      f(L.stream.p50Ms, 2),
      plus(L.poll.p50Ms, L.stream.p50Ms),
      check(L.poll.p50Ms === null || L.stream.p50Ms === null ? null : L.poll.p50Ms - L.stream.p50Ms <= 1),
      '<= +1.00 ms',
    ],
    ['targeted event -> held poll / open stream, p99', 'ms', f(L.poll.p99Ms, 2), f(L.stream.p99Ms, 2), plus(L.poll.p99Ms, L.stream.p99Ms), '', ''],
    [
      `server CPU per long-poll cycle, woken by an announcement to all / per short poll`,
      'us',
      f(c.fanoutCycleUs, 0),
      f(c.shortPollUs, 0),
      times(c.fanoutCycleUs, c.shortPollUs),
      check(c.fanoutRatio === null ? null : c.fanoutRatio <= 1.2),
      '<= 1.20x',
    ],
    [`  (an announcement to all with nobody listening, subtracted: ${c.users} cycles each)`, 'us', f(c.fanoutPublishUs, 0), '', '', '', ''],
    [
      'server CPU per long-poll cycle, woken by an event to its user / per short poll',
      'us',
      f(c.cycleUs, 0),
      f(c.shortPollUs, 0),
      times(c.cycleUs, c.shortPollUs),
      check(c.ratio === null ? null : c.ratio <= 1.2),
      '<= 1.20x',
    ],
    ['  (publishing an event to one existing user who holds nothing, subtracted: 1 cycle each)', 'us', f(c.publishUs, 0), '', '', '', ''],
    [
      "the same cycle / a short poll that picks up its user's new event (publish subtracted)",
      'us',
      f(c.cycleUs, 0),
      f(c.shortWithEventUs, 0),
      times(c.cycleUs, c.shortWithEventUs),
      '',
      '',
    ],
    [
      `idle: requests per minute per client (${id.seconds} s, ${id.clients} clients)`,
      'req/min',
      f(id.perClientPerMin, 2),
      '',
      '',
      check(id.perClientPerMin <= id.targetPerMin),
      `<= 60/${r.waitS} + 1 = ${id.targetPerMin.toFixed(2)}`,
    ],
    ['idle: server CPU per client per minute', 'ms', f(id.serverCpuMsPerClientPerMin, 2), '', '', '', ''],
    [`events lost (of ${r.integrity.expected} sent to polls and streams)`, 'events', f(r.integrity.lost, 0), '', '', check(r.integrity.lost === 0), '0'],
    [
      'duplicates / misdelivered',
      'events',
      f(r.integrity.duplicates + r.integrity.misdelivered, 0),
      '',
      '',
      check(r.integrity.duplicates + r.integrity.misdelivered === 0),
      '0',
    ],
    ['poll errors (non-200, socket) / publish errors', 'requests', f(lpErrors + pubErrors, 0), '', '', check(lpErrors + pubErrors === 0), '0'],
    [
      'streams dropped during run',
      'streams',
      f(r.integrity.streamClient.closedAfterOpen, 0),
      '',
      '',
      check(r.integrity.streamClient.closedAfterOpen === 0),
      '0',
    ],
    ['server warn/error log lines during run', 'lines', f(r.server.warningCount, 0), '', '', check(r.server.warningCount === 0), '0'],
  ];
  const header: R = ['metric', 'unit', 'long polls', 'streams / short polls', 'polls vs them', 'check', 'target'];
  const table = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...table.map((x) => x[i].length)));
  const numeric = new Set([2, 3, 4]);
  const line = (cells: string[]) => cells.map((x, i) => (numeric.has(i) ? x.padStart(widths[i]) : x.padEnd(widths[i]))).join(' | ');
  const out = [
    '',
    `Long polling: own server and fresh database (${r.database}), POLL_MAX_WAIT_S=${r.waitS}; ${r.streams.opened} streams, then ${heldPolls} long polls ` +
      `held on top (long-poll-client.ts: one keep-alive connection per user, re-polling from the last id at once); ` +
      `CPU: ${c.rounds} rounds of ${c.events / c.rounds} events to ${c.users} held polls, as many to nobody, as many short polls, ` +
      `${c.fanouts / c.rounds} announcements to all ${c.users} of them; ` +
      `latency: ${L.poll.samples} + ${L.stream.samples} targeted events, alternately, one at a time`,
    '',
    line(table[0]),
    widths.map((x) => '-'.repeat(x)).join('-|-'),
    ...table.slice(1).map(line),
    `  longpoll: startup ${r.startupMs} ms; heap ${mb(m.start.heapUsedBytes)} -> ${mb(m.afterStreams.heapUsedBytes)} (streams) -> ${mb(m.afterPolls.heapUsedBytes)} MB (polls), ` +
      `RSS ${mb(m.start.rssBytes)} -> ${mb(m.afterStreams.rssBytes)} -> ${mb(m.afterPolls.rssBytes)} MB; ${r.polls.started} pollers started, all held after ${r.polls.startMs.toFixed(0)} ms; ` +
      `warm-up p50 poll ${f(L.warmupPollP50Ms, 2)} / stream ${f(L.warmupStreamP50Ms, 2)} ms; CPU blocks: targeted cycles ${(c.cycleSeconds * 1e3).toFixed(0)} ms, ` +
      `publishing alone ${(c.publishOnlySeconds * 1e3).toFixed(0)} ms, short polls ${(c.shortSeconds * 1e3).toFixed(0)} ms, ` +
      `events then short polls ${(c.shortWithEventSeconds * 1e3).toFixed(0)} ms (${c.shortWithEventPolls} polls for ${c.shortWithEvent} events), ` +
      `fan-out cycles ${(c.fanoutSeconds * 1e3).toFixed(0)} ms (${c.fanoutCycles} cycles; ${((c.fanoutSeconds * 1e6) / Math.max(1, c.fanoutCycles)).toFixed(0)} us each with nothing subtracted), ${c.fanouts} announcements to nobody ${((c.fanoutPublishUs * c.fanouts) / 1e3).toFixed(0)} ms; ` +
      `idle: ${id.requests} requests, ${id.answersWithEvents} answered with events; clock offsets ${r.clockOffsetMs.polls.toFixed(3)} / ${r.clockOffsetMs.streams.toFixed(3)} ms`,
  ];
  if (Object.keys(r.integrity.pollClient.errors).length) out.push(`  longpoll client errors: ${JSON.stringify(r.integrity.pollClient.errors)}`);
  if (Object.keys(r.integrity.publishErrors).length) out.push(`  longpoll publish errors: ${JSON.stringify(r.integrity.publishErrors)}`);
  if (r.streams.failed) out.push(`  longpoll stream connect failures: ${JSON.stringify(r.streams.failures)}`);
  const pc = r.integrity.pollClient;
  if (pc.malformed || pc.resets || Object.keys(pc.otherEvents).length) {
    out.push(`  longpoll client saw: malformed ${pc.malformed}, resets ${pc.resets}, other events ${JSON.stringify(pc.otherEvents)}`);
  }
  for (const x of r.server.startupWarnings) out.push(`  longpoll server at startup: ${x}`);
  if (r.server.warningCount) out.push(`  longpoll server logged ${r.server.warningCount} warn/error lines, first: ${r.server.warnings[0]}`);
  out.push('');
  return out;
}

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
