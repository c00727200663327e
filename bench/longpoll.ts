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
 * longpoll-session.ts; the printed table is longpoll-report.ts.
 */
import path from 'node:path';
import type { ClientStatus } from './protocol';
import { measureClock, isAborting, startLoadClient, startServerProcess, ROOT, type ServerProc, type PrepareDatabase } from './procs';
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

export { longPollReport } from './longpoll-report';

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
