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
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { nowMs, type ClientStatus, type ConnectResult, type PhaseReport, type Stamp } from './protocol';
import {
  measureClock,
  assertNotAborting,
  isAborting,
  startLoadClient,
  startServerProcess,
  ROOT,
  type LoadClientProc,
  type ServerProc,
  type PrepareDatabase,
} from './procs';
import { getText, postJson, readMetrics, requestJson, type MetricsSample } from './http';
import { fmt, rng, summarize } from './report';
import type { LongPollStatus } from './long-poll-client';
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

type Role = 'client' | 'provider';

/** DISPATCH_POLL_MS for the run (ms). */
const DISPATCH_TICK_MS = 50;

async function measureLongPoll(o: LongPollOptions, deps: LongPollDeps, onServer: (s: ServerProc) => void): Promise<LongPollResult> {
  const say = (msg: string) => deps.progress(`[longpoll] ${msg}`);
  const key = crypto.createSecretKey(Buffer.from(deps.jwtSecret, 'utf8'));
  const run = crypto.randomBytes(3).toString('hex');
  const user = (kind: string, i: number) => {
    const role: Role = i % 2 === 0 ? 'client' : 'provider';
    const id = `lp-${run}-${kind}-${i}`;
    return { id, token: jwt.sign({ sub: id, role }, key, { algorithm: 'HS256', expiresIn: 3600 }) };
  };
  const many = (kind: string, n: number) => Array.from({ length: n }, (_, i) => user(kind, i));
  // Long pollers are one list in the client: the cycle users first, then the N held polls.
  const cycleUsers = many('cyc', o.cycleUsers);
  const pollUsers = many('poll', o.polls);
  const lpUsers = [...cycleUsers, ...pollUsers];
  const shortUsers = many('short', o.cycleUsers);
  const absentUsers = many('absent', o.cycleUsers);
  const streamUsers = many('stream', o.streams);
  const admin = jwt.sign({ sub: `lp-${run}-admin`, role: 'admin' }, key, { algorithm: 'HS256', expiresIn: 3600 });

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
      // short tick lets each CPU block below wait for its own dispatcher work (see `timed`).
      DISPATCH_POLL_MS: String(DISPATCH_TICK_MS),
      ...db.env,
    },
    port,
    readyPath: '/readyz',
    nodeArgs: o.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(ROOT, 'bench', 'results', 'profiles', 'longpoll')}`] : [],
  });
  onServer(server);
  const startupMs = Date.now() - t0;
  const lp = await startLoadClient('long-poll-client.ts');
  const sc = await startLoadClient();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  try {
    const clockOffsetMs = { polls: (await measureClock(lp)).offsetMs, streams: (await measureClock(sc)).offsetMs };
    const gcAndRead = async () => {
      await server.rpc.call('gc', {}, 30_000);
      return readMetrics(server.url);
    };
    const held = async () => {
      const r = await getText(`${server.url}/api/status`);
      return (JSON.parse(r.body) as { longPolls: { held: number } }).longPolls.held;
    };
    /** Until the server holds `n` polls (or the time runs out); the count it reached. */
    const awaitHeld = async (n: number, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      let h = await held();
      while (h < n && Date.now() < deadline) {
        await sleep(200);
        const why = server.exitReport();
        if (why) throw new Error(why);
        h = await held();
      }
      return h;
    };

    // --- publishing and expectations ----------------------------------------------------------
    const expected = new Map<string, Map<number, number>>();
    const expect = (phase: string, i: number) => {
      let e = expected.get(phase);
      if (!e) expected.set(phase, (e = new Map()));
      e.set(i, (e.get(i) ?? 0) + 1);
    };
    const publishErrors: Record<string, number> = {};
    /** One announcement to one user, or to everyone (`null`). */
    const publish = async (userId: string | null, stamp: Stamp): Promise<boolean> => {
      assertNotAborting();
      const text = { title: 'bench', body: JSON.stringify(stamp) };
      try {
        const r = await postJson(`${server.url}/api/broadcasts`, admin, userId === null ? { ...text, all: true } : { ...text, userIds: [userId] }, agent);
        if (r.status === 202) return true;
        const k = `HTTP ${r.status}`;
        if (!publishErrors[k]) say(`publish answered ${r.status}: ${r.body.slice(0, 200)}`);
        publishErrors[k] = (publishErrors[k] ?? 0) + 1;
      } catch (err) {
        const why = server.exitReport();
        if (why) throw new Error(why, { cause: err });
        const k = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        publishErrors[k] = (publishErrors[k] ?? 0) + 1;
      }
      return false;
    };
    /** Waits for a client to hold `total` unique receipts of `phase`, giving up early if the server died. */
    const awaitPhase = async (client: LoadClientProc, phase: string, total: number, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const left = deadline - Date.now();
        const w = await client.rpc.call<{ reached: boolean; unique: number }>('await', { phase, total, timeoutMs: Math.max(0, Math.min(1_000, left)) });
        if (w.reached || left <= 1_000) return w;
        const why = server.exitReport();
        if (why) throw new Error(why);
      }
    };

    // --- CPU: long-poll cycles, publishing alone, short polls -----------------------------------
    const cpu = { publishOnlySeconds: 0, cycleSeconds: 0, shortSeconds: 0, shortWithEventSeconds: 0, fanoutPublishSeconds: 0, fanoutSeconds: 0 };
    const timed = async (what: keyof typeof cpu, fn: () => Promise<void>) => {
      const a = await readMetrics(server.url);
      await fn();
      // The dispatcher's work for this block's notifications, on its next ticks: in this block,
      // not the next one (the publish-only block's would otherwise land in the cycle block).
      await sleep(DISPATCH_TICK_MS * 3);
      const b = await readMetrics(server.url);
      cpu[what] += b.cpuSeconds - a.cpuSeconds;
    };
    // An announcement to everyone while nobody listens: what the fan-out cycles below subtract.
    const fanouts = Math.max(4, Math.round(o.cycles / o.cycleUsers));
    say(`CPU: ${fanouts} announcements to all with nobody listening (after as many untimed)`);
    for (let k = 0; k < fanouts; k++) await publish(null, { p: 'nobody', s: k, t: nowMs() });
    await timed('fanoutPublishSeconds', async () => {
      for (let k = 0; k < fanouts; k++) await publish(null, { p: 'nobody', s: k, t: nowMs() });
    });
    say(`CPU: ${o.cycleUsers} users long-polling, ${o.cycleUsers} short-polling`);
    await lp.rpc.call('start', { url: server.url, tokens: cycleUsers.map((u) => u.token), wait: o.waitS, concurrency: 50 }, 300_000);
    await awaitHeld(o.cycleUsers, 30_000);
    const cursors = new Map<string, string>();
    for (const u of shortUsers) {
      const r = await requestJson('GET', `${server.url}/api/events`, u.token, undefined, agent);
      cursors.set(u.id, (JSON.parse(r.body) as { lastEventId: string }).lastEventId);
    }
    // The users the publish-only block publishes to hold nothing, but they must exist like the
    // cycle and short-poll users (a user row is written on a user's first request): a personal
    // announcement to a user with no row makes no notification, no `notification.created` event
    // and no dispatcher work, so the block would subtract far less than a cycle's publish costs.
    for (const u of absentUsers) await requestJson('GET', `${server.url}/api/events`, u.token, undefined, agent);
    const shortErrors: Record<string, number> = {};
    let shortNext = 0;
    const shortPolls = async (count: number) => {
      let left = count;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (left > 0) {
            left--;
            const u = shortUsers[shortNext++ % shortUsers.length];
            const r = await requestJson('GET', `${server.url}/api/events?after=${cursors.get(u.id)}`, u.token, undefined, agent);
            if (r.status !== 200) shortErrors[`HTTP ${r.status}`] = (shortErrors[`HTTP ${r.status}`] ?? 0) + 1;
            else cursors.set(u.id, (JSON.parse(r.body) as { lastEventId: string }).lastEventId);
          }
        }),
      );
    };
    /**
     * `count` times: an event to a short-polling user, then that user's polls until one returns it
     * (the 202 can come before this instance's relay has dispatched the event); 4 at a time.
     */
    let shortWithEvent = 0;
    let shortWithEventPolls = 0;
    const shortWithEventBlock = async (count: number) => {
      let left = count;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (left > 0) {
            left--;
            const u = shortUsers[shortNext++ % shortUsers.length];
            if (!(await publish(u.id, { p: 'short', s: 0, t: nowMs() }))) continue;
            for (let tries = 0; tries < 100; tries++) {
              shortWithEventPolls++;
              const r = await requestJson('GET', `${server.url}/api/events?after=${cursors.get(u.id)}`, u.token, undefined, agent);
              if (r.status !== 200) {
                shortErrors[`HTTP ${r.status}`] = (shortErrors[`HTTP ${r.status}`] ?? 0) + 1;
                break;
              }
              const body = JSON.parse(r.body) as { lastEventId: string; events: unknown[] };
              cursors.set(u.id, body.lastEventId);
              if (body.events.length > 0) {
                shortWithEvent++;
                break;
              }
            }
          }
        }),
      );
    };
    let cycleSent = 0;
    let cycleNext = 0;
    /** `count` events to the long-polling cycle users, 4 publishers; resolves once each arrived and its poll is back. */
    const cycleBlock = async (phase: string, count: number) => {
      let left = count;
      let sent = 0;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (left > 0) {
            left--;
            const i = cycleNext++ % cycleUsers.length;
            if (await publish(cycleUsers[i].id, { p: phase, s: sent, t: nowMs(), u: i })) {
              expect(phase, i);
              sent++;
            }
          }
        }),
      );
      cycleSent = phase === 'cyc' ? cycleSent + sent : cycleSent;
      await settle(phase);
    };
    /** Until every event of `phase` arrived and every answered poll's successor is on the wire (and held). */
    const settle = async (phase: string) => {
      const total = [...(expected.get(phase)?.values() ?? [])].reduce((a, v) => a + v, 0);
      await awaitPhase(lp, phase, total, 30_000);
      for (let i = 0; i < 50; i++) {
        const s = await lp.rpc.call<LongPollStatus>('status');
        if (s.inFlight >= s.pollers) break;
        await sleep(10);
      }
      await sleep(20);
    };
    let fanoutCycles = 0;
    /** `count` announcements to all, one at a time: each wakes every cycle user's held poll. */
    const fanoutBlock = async (phase: string, count: number) => {
      for (let k = 0; k < count; k++) {
        if (!(await publish(null, { p: phase, s: k, t: nowMs() }))) continue;
        for (let i = 0; i < cycleUsers.length; i++) expect(phase, i);
        if (phase === 'fan') fanoutCycles += cycleUsers.length;
        await settle(phase);
      }
    };
    let absentNext = 0;
    const publishOnlyBlock = async (count: number) => {
      let left = count;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (left > 0) {
            left--;
            const u = absentUsers[absentNext++ % absentUsers.length];
            await publish(u.id, { p: 'absent', s: 0, t: nowMs() });
          }
        }),
      );
    };
    const warm = Math.min(o.cycles, 500);
    say(`CPU: warm-up (${warm} of each, untimed)`);
    await cycleBlock('cycwarm', warm);
    await publishOnlyBlock(warm);
    await shortPolls(warm);
    await shortWithEventBlock(warm);
    shortWithEvent = shortWithEventPolls = 0;
    await fanoutBlock('fanwarm', Math.min(fanouts, 5));
    // Many short rounds: a busy spell of the machine then falls on every block alike.
    const rounds = 8;
    const per = Math.max(1, Math.round(o.cycles / rounds));
    const fanPer = Math.max(1, Math.round(fanouts / rounds));
    say(
      `CPU: ${rounds} rounds of ${per} events to held polls, ${per} to nobody, ${per} short polls, ` +
        `${fanPer} announcements to all (${o.cycleUsers} held polls each)`,
    );
    for (let r = 0; r < rounds; r++) {
      // The two blocks whose difference is the targeted cycle swap places every round: in a fixed
      // order, the GC debt and the dispatcher ticks one block leaves fall on the same other block each time.
      const publishOnly = () => timed('publishOnlySeconds', () => publishOnlyBlock(per));
      const cycles = () => timed('cycleSeconds', () => cycleBlock('cyc', per));
      if (r % 2 === 0) await publishOnly().then(cycles);
      else await cycles().then(publishOnly);
      await timed('shortSeconds', () => shortPolls(per));
      await timed('shortWithEventSeconds', () => shortWithEventBlock(per));
      await timed('fanoutSeconds', () => fanoutBlock('fan', fanPer));
    }
    const events = per * rounds;
    const publishUs = (cpu.publishOnlySeconds * 1e6) / events;
    const cycleUs = ((cpu.cycleSeconds - cpu.publishOnlySeconds) * 1e6) / Math.max(1, cycleSent);
    const shortPollUs = (cpu.shortSeconds * 1e6) / events;
    const shortWithEventUs = ((cpu.shortWithEventSeconds - cpu.publishOnlySeconds) * 1e6) / Math.max(1, shortWithEvent);
    const fanoutPublishUs = (cpu.fanoutPublishSeconds * 1e6) / fanouts;
    const fanoutCycleUs = ((cpu.fanoutSeconds - (cpu.fanoutPublishSeconds * fanPer * rounds) / fanouts) * 1e6) / Math.max(1, fanoutCycles);

    // --- memory: streams, then long polls on top ------------------------------------------------
    const snapshot = async (name: string) => {
      if (!o.heapSnapshots) return;
      const dir = path.join(ROOT, 'bench', 'results', 'heap');
      fs.mkdirSync(dir, { recursive: true });
      say(`heap snapshot -> ${path.relative(ROOT, dir)}/longpoll-${name}.heapsnapshot`);
      await server.rpc.call('heapsnapshot', { file: path.join(dir, `longpoll-${name}.heapsnapshot`) }, 300_000);
    };
    const heldBefore = await held();
    const mStart = await gcAndRead();
    await snapshot('start');
    say(`memory: opening ${o.streams} streams (${o.connectConcurrency} at a time)`);
    const conn = await sc.rpc.call<ConnectResult>(
      'connect',
      {
        transport: 'sse',
        url: `${server.url}/api/events/stream`,
        tokens: streamUsers.map((u) => u.token),
        concurrency: o.connectConcurrency,
        timeoutMs: 30_000,
      },
      600_000,
    );
    await sleep(500);
    const mStreams = await gcAndRead();
    await snapshot('streams');
    say(`memory: ${conn.opened}/${conn.requested} streams open in ${conn.durationMs.toFixed(0)} ms; starting ${o.polls} long polls`);
    const tp = nowMs();
    const started = await lp.rpc.call<{ started: number; durationMs: number }>(
      'start',
      { url: server.url, tokens: pollUsers.map((u) => u.token), wait: o.waitS, concurrency: o.connectConcurrency },
      600_000,
    );
    const heldNow = await awaitHeld(heldBefore + o.polls, 60_000);
    const startMs = nowMs() - tp;
    await sleep(500);
    const heldAfter = await held();
    const mPolls = await gcAndRead();
    await snapshot('polls');
    say(`memory: ${started.started} pollers started, ${heldNow - heldBefore} held after ${startMs.toFixed(0)} ms (${heldAfter} held in all)`);
    const per1 = (a: MetricsSample, b: MetricsSample, n: number) => ({
      rss: (b.rssBytes - a.rssBytes) / 1024 / Math.max(1, n),
      heap: (b.heapUsedBytes - a.heapUsedBytes) / 1024 / Math.max(1, n),
    });

    // --- latency: alternately to a held poll and to an open stream -----------------------------
    const pick = rng(o.seed);
    const recent: number[] = [];
    const pollTarget = () => {
      // Not one of the last few targeted: its next poll may not be held yet.
      for (;;) {
        const i = o.cycleUsers + Math.floor(pick() * o.polls);
        if (o.polls <= 16 || !recent.includes(i)) {
          recent.push(i);
          if (recent.length > 8) recent.shift();
          return i;
        }
      }
    };
    const opened = conn.openedIndices;
    const sequential = async (pollPhase: string, streamPhase: string, count: number) => {
      let pollSent = 0;
      let streamSent = 0;
      const one = async (toPoll: boolean, s: number) => {
        if (toPoll) {
          const i = pollTarget();
          if (!(await publish(lpUsers[i].id, { p: pollPhase, s, t: nowMs(), u: i }))) return;
          expect(pollPhase, i);
          await awaitPhase(lp, pollPhase, ++pollSent, 5_000);
        } else if (opened.length) {
          const i = opened[Math.floor(pick() * opened.length)];
          if (!(await publish(streamUsers[i].id, { p: streamPhase, s, t: nowMs(), u: i }))) return;
          expect(streamPhase, i);
          await awaitPhase(sc, streamPhase, ++streamSent, 5_000);
        }
      };
      for (let s = 0; s < count; s++) {
        // Which goes first alternates, so neither always follows the other.
        await one(s % 2 === 0, s);
        await one(s % 2 !== 0, s);
      }
    };
    if (o.latencyWarmup > 0) {
      say(`latency: warm-up, ${o.latencyWarmup} events to each, untimed`);
      await sequential('lpwarm', 'stwarm', o.latencyWarmup);
    }
    say(`latency: ${o.latencySamples} events to held polls and ${o.latencySamples} to streams, alternately, one at a time`);
    await sequential('lplat', 'stlat', o.latencySamples);

    // --- idle: whole wait cycles with nothing sent ----------------------------------------------
    say(`idle: ${o.idleSeconds} s with nothing sent (POLL_MAX_WAIT_S=${o.waitS})`);
    const i0 = await lp.rpc.call<LongPollStatus>('status');
    const mi0 = await readMetrics(server.url);
    await sleep(o.idleSeconds * 1000);
    const i1 = await lp.rpc.call<LongPollStatus>('status');
    const mi1 = await readMetrics(server.url);
    const clients = i1.pollers;
    const idleRequests = i1.requests - i0.requests;

    // --- reports ---------------------------------------------------------------------------------
    await sleep(300);
    let expectedTotal = 0;
    let received = 0;
    let lost = 0;
    let duplicates = 0;
    let misdelivered = 0;
    const reports = new Map<string, PhaseReport>();
    for (const [phase, exp] of expected) {
      const client = phase.startsWith('st') ? sc : lp;
      const rep = await client.rpc.call<PhaseReport>('report', { phase });
      reports.set(phase, rep);
      for (const [i, n] of exp) {
        const got = rep.perStream[i] ?? 0;
        expectedTotal += n;
        received += Math.min(got, n);
        if (got < n) lost += n - got;
      }
      duplicates += rep.duplicates;
      // A stamp naming another user, or more receipts on a user than were sent to it.
      let extra = 0;
      rep.perStream.forEach((got, i) => (extra += Math.max(0, got - (exp.get(i) ?? 0))));
      misdelivered += Math.max(rep.misdelivered, extra);
    }
    const pollClient = await lp.rpc.call<LongPollStatus>('status');
    const streamClient = await sc.rpc.call<ClientStatus>('status');
    const lat = (phase: string): Latency => {
      const s = summarize(reports.get(phase)?.latencies ?? []);
      return { samples: s.n, p50Ms: s.p50, p99Ms: s.p99, maxMs: s.max };
    };

    say('stopping');
    await lp.rpc.call('close').catch(() => undefined);
    await sc.rpc.call('close').catch(() => undefined);
    await lp.stop();
    await sc.stop();
    await server.stop();
    await db.drop();

    const pick2 = (m: MetricsSample) => ({ rssBytes: m.rssBytes, heapUsedBytes: m.heapUsedBytes });
    const heldPolls = heldAfter - heldBefore;
    return {
      database: db.kind,
      waitS: o.waitS,
      startupMs,
      clockOffsetMs,
      polls: {
        requested: o.polls,
        started: started.started,
        startMs,
        heldBefore,
        heldAfter,
        perSec: started.durationMs > 0 ? started.started / (started.durationMs / 1000) : 0,
      },
      streams: {
        requested: conn.requested,
        opened: conn.opened,
        failed: conn.failed,
        failures: conn.failures,
        connectMs: conn.durationMs,
        perSec: conn.durationMs > 0 ? conn.opened / (conn.durationMs / 1000) : 0,
      },
      memory: {
        start: pick2(mStart),
        afterStreams: pick2(mStreams),
        afterPolls: pick2(mPolls),
        perStreamKB: per1(mStart, mStreams, conn.opened),
        perPollKB: per1(mStreams, mPolls, heldPolls),
      },
      latency: {
        poll: lat('lplat'),
        stream: lat('stlat'),
        warmupPollP50Ms: o.latencyWarmup > 0 ? lat('lpwarm').p50Ms : null,
        warmupStreamP50Ms: o.latencyWarmup > 0 ? lat('stwarm').p50Ms : null,
      },
      cpu: {
        rounds,
        users: o.cycleUsers,
        events,
        shortPolls: events,
        ...cpu,
        fanouts: fanPer * rounds,
        fanoutCycles,
        publishUs,
        cycleUs,
        shortPollUs,
        shortWithEvent,
        shortWithEventPolls,
        shortWithEventUs,
        fanoutPublishUs,
        fanoutCycleUs,
        ratio: shortPollUs > 0 ? cycleUs / shortPollUs : null,
        fanoutRatio: shortPollUs > 0 ? fanoutCycleUs / shortPollUs : null,
      },
      idle: {
        seconds: o.idleSeconds,
        clients,
        requests: idleRequests,
        perClientPerMin: idleRequests / Math.max(1, clients) / (o.idleSeconds / 60),
        targetPerMin: 60 / o.waitS + 1,
        answersWithEvents: i1.requests - i0.requests - (i1.emptyAnswers - i0.emptyAnswers),
        serverCpuMsPerClientPerMin: ((mi1.cpuSeconds - mi0.cpuSeconds) * 1e3) / Math.max(1, clients) / (o.idleSeconds / 60),
      },
      integrity: {
        expected: expectedTotal,
        received,
        lost,
        duplicates,
        misdelivered,
        publishErrors: { ...publishErrors, ...Object.fromEntries(Object.entries(shortErrors).map(([k, v]) => [`short poll: ${k}`, v])) },
        pollClient,
        streamClient,
      },
      server: { startupWarnings: server.startupWarnings, warningCount: server.warningCount, warnings: server.warnings },
    };
  } finally {
    agent.destroy();
  }
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
