/**
 * `npm run bench [-- --connections N --events M --embedded --quick]`
 *
 * Runs the real server (`node --import tsx src/server.ts`, on a fresh PostgreSQL database, or on
 * embedded PGlite with --embedded) and then a naive raw node:http SSE server (baseline-server.ts),
 * each as a child process, and drives both with the same load client (load-client.ts, another
 * child process) holding N SSE streams. Prints a side-by-side table and writes
 * bench/results/latest.json. A benchmark, not a test: it prints what it measured on this machine.
 *
 * This file runs the parts in order and prints what they measured; each part is a module of its
 * own: options.ts (the flags), streams*.ts (the comparison), announce.ts, api-load.ts,
 * longpoll.ts, dispatch.ts and notify.ts, with procs.ts for the child processes.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, fdLimits, isAborting, runCleanups, serversCompiled, useCompiledServers } from './procs';
import type { CheckedRow, Row } from './report';
import { runAnnounce, type AnnounceResult } from './announce';
import { runNotify, notifyReport, type NotifyResult } from './notify';
import { runApi, apiReport, type ApiResult } from './api-load';
import { runLongPoll, longPollReport, type LongPollResult } from './longpoll';
import { runDispatch, dispatchReport, type DispatchResult } from './dispatch';
import { parseOptions, type Options, type PartName, type TargetName } from './options';
import { prepareDatabase } from './database';
import { benchStarted, progress } from './progress';
import { JWT_SECRET, makeUsers, measureJwt, sign, type BenchUser } from './users';
import { runTarget, type TargetResult } from './streams';
import { comparisonReport, rows } from './streams-report';
import { announceReport, announceRows } from './announce-report';

/** File descriptors each process keeps for itself beyond one per stream (DB pool, stdio, tsx...). */
const FD_RESERVE = 256;
const RESULTS_FILE = path.join(ROOT, 'bench', 'results', 'latest.json');
/** Creating users through the API (--embedded) gives up after this long and skips the phase. */
const ANNOUNCE_CREATE_BUDGET_MS = 180_000;

/** What every phase of this run is given. */
interface Run {
  opts: Options;
  fd: { soft: number; hard: number };
  /** Streams to hold: --connections, lowered to what the open-file limit allows. */
  connections: number;
  users: BenchUser[];
  adminToken: string;
}

interface Results {
  streams: Record<TargetName, TargetResult[]>;
  announced: AnnounceResult[];
  api: ApiResult | null;
  longPolled: LongPollResult | null;
  dispatched: DispatchResult | null;
  notified: NotifyResult | null;
}

const selected = (opts: Options, part: PartName) => !opts.only || opts.only.includes(part);

/** The server and the client each need one fd per stream: --connections within `ulimit -n`. */
function connectionsWithinFdLimit(opts: Options, fd: { soft: number; hard: number }): number {
  const maxConnections = Math.max(1, fd.soft - FD_RESERVE);
  if (opts.connections <= maxConnections) return opts.connections;
  progress(
    `ulimit -n is ${fd.soft} (hard ${fd.hard}); server and client each need one fd per stream, ` +
      `so --connections is lowered from ${opts.connections} to ${maxConnections}. Raise it with \`ulimit -n\`.`,
  );
  return maxConnections;
}

/** The streams comparison and the announcement, --rounds times. */
async function runRounds(run: Run): Promise<Pick<Results, 'streams' | 'announced'>> {
  const { opts } = run;
  const streams: Record<TargetName, TargetResult[]> = { ours: [], baseline: [], socketio: [] };
  const announced: AnnounceResult[] = [];
  for (let round = 0; round < opts.rounds; round++) {
    // Alternate which side goes first, so neither always gets the cold (or the warm) machine.
    const order: TargetName[] = round % 2 === 0 ? ['ours', 'baseline', 'socketio'] : ['socketio', 'baseline', 'ours'];
    for (const name of order) {
      if (!selected(opts, name)) continue;
      if (opts.rounds > 1) progress(`round ${round + 1}/${opts.rounds}`);
      streams[name].push(await runTarget(name, opts, run.users, run.adminToken));
    }
    if (selected(opts, 'announce')) {
      if (opts.rounds > 1) progress(`round ${round + 1}/${opts.rounds}`);
      announced.push(await announceOnce(opts, round));
    }
  }
  return { streams, announced };
}

function announceOnce(opts: Options, round: number): Promise<AnnounceResult> {
  return runAnnounce(
    {
      users: opts.announceUsers,
      sample: opts.announceSample,
      createConcurrency: 50,
      createBudgetMs: ANNOUNCE_CREATE_BUDGET_MS,
      embedded: opts.embedded,
      seed: opts.seed + round,
      profile: opts.profile,
    },
    { jwtSecret: JWT_SECRET, sign, progress, prepareDatabase },
  );
}

function runApiPhase({ opts }: Run): Promise<ApiResult> {
  return runApi(opts, { jwtSecret: JWT_SECRET, progress, prepareDatabase });
}

function runLongPollPhase({ opts, fd }: Run): Promise<LongPollResult> {
  // The server holds one fd per poll and per stream, the two clients one each: streams get what is left.
  const cycleUsers = opts.quick ? 50 : 100;
  const polls = Math.min(opts.longPolls, Math.max(1, fd.soft - FD_RESERVE - 2 * cycleUsers - 1));
  const streams = Math.min(polls, Math.max(1, fd.soft - FD_RESERVE - 2 * cycleUsers - polls));
  if (polls < opts.longPolls || streams < polls) {
    progress(`ulimit -n is ${fd.soft}: longpoll holds ${polls} polls (of ${opts.longPolls}) next to ${streams} streams. Raise it with \`ulimit -n\`.`);
  }
  return runLongPoll(
    {
      polls,
      streams,
      waitS: opts.longPollWait,
      idleSeconds: opts.longPollIdle,
      cycles: opts.longPollCycles,
      cycleUsers,
      latencySamples: opts.latencySamples,
      latencyWarmup: opts.longPollWarmup,
      connectConcurrency: opts.connectConcurrency,
      embedded: opts.embedded,
      profile: opts.profile,
      heapSnapshots: opts.heapSnapshots,
      seed: opts.seed,
    },
    { jwtSecret: JWT_SECRET, progress, prepareDatabase },
  );
}

function runDispatchPhase({ opts, connections }: Run): Promise<DispatchResult> {
  return runDispatch(
    {
      streams: connections,
      away: opts.dispatchAway,
      events: opts.dispatchEvents,
      awayShare: opts.dispatchAwayShare,
      publishers: opts.publishers,
      warmup: Math.min(opts.latencyWarmup, 300),
      latencySamples: opts.latencySamples,
      rounds: opts.dispatchRounds,
      outageSeconds: opts.dispatchOutage,
      outageRate: opts.dispatchOutageRate,
      connectConcurrency: opts.connectConcurrency,
      embedded: opts.embedded,
      profile: opts.profile,
      seed: opts.seed,
    },
    { jwtSecret: JWT_SECRET, progress, prepareDatabase },
  );
}

function runNotifyPhase({ opts }: Run): Promise<NotifyResult> {
  return runNotify(
    {
      instances: opts.notifyInstances,
      rates: opts.notifyRates,
      seconds: opts.notifySeconds,
      concurrency: opts.notifyConcurrency,
      embedded: opts.embedded,
      debounceMs: opts.notifyDebounceMs,
    },
    { progress, prepareDatabase },
  );
}

/** Every selected part, in the order they always run. */
async function runParts(run: Run): Promise<Results> {
  const { opts } = run;
  const { streams, announced } = await runRounds(run);
  const api = selected(opts, 'api') ? await runApiPhase(run) : null;
  const longPolled = selected(opts, 'longpoll') ? await runLongPollPhase(run) : null;
  const dispatched = selected(opts, 'dispatch') ? await runDispatchPhase(run) : null;
  const notified = selected(opts, 'notify') ? await runNotifyPhase(run) : null;
  return { streams, announced, api, longPolled, dispatched, notified };
}

interface Tables {
  streams: Row[];
  announce: CheckedRow[];
}

type JwtCost = ReturnType<typeof measureJwt>;

/** Everything printed on stdout at the end: each part's report, then the run's own figures. */
function report(run: Run, res: Results, tables: Tables, jwtCost: JwtCost, load: { before: number; after: number }): string {
  const out = comparisonReport(res.streams, tables.streams, run.opts, run.connections);
  if (res.announced.length) out.push(...announceReport(res.announced, tables.announce, run.opts));
  if (res.api) out.push(...apiReport(res.api));
  if (res.longPolled) out.push(...longPollReport(res.longPolled));
  if (res.dispatched) out.push(...dispatchReport(res.dispatched));
  if (res.notified) out.push(...notifyReport(res.notified));
  out.push(
    `jsonwebtoken HS256 in the driver: sign ${jwtCost.signUs.toFixed(1)} us; verify with a string secret ` +
      `${jwtCost.verifyStringUs.toFixed(1)} us, with a KeyObject ${jwtCost.verifyKeyObjectUs.toFixed(1)} us ` +
      `(${(jwtCost.verifyStringUs / jwtCost.verifyKeyObjectUs).toFixed(1)}x)`,
  );
  out.push(
    `Total ${((Date.now() - benchStarted) / 1000).toFixed(1)} s; load average ${load.before.toFixed(2)} before, ${load.after.toFixed(2)} after. ` +
      `JSON: ${path.relative(ROOT, RESULTS_FILE)}`,
  );
  out.push('');
  return out.join('\n') + '\n';
}

function writeResults(run: Run, res: Results, tables: Tables, jwtCost: JwtCost, load: { before: number; after: number }): void {
  const { opts } = run;
  const comparison = res.streams.ours.length + res.streams.baseline.length + res.streams.socketio.length > 0;
  fs.mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
  fs.writeFileSync(
    RESULTS_FILE,
    JSON.stringify(
      {
        at: new Date().toISOString(),
        machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryMB: Math.round(os.totalmem() / 2 ** 20), node: process.version },
        options: { ...opts, connections: run.connections, requestedConnections: opts.connections, fdLimit: run.fd, serversCompiled: serversCompiled() },
        jwt: jwtCost,
        loadAverage: load,
        ours: res.streams.ours,
        baseline: res.streams.baseline,
        socketio: res.streams.socketio,
        table: comparison ? tables.streams : [],
        announce: res.announced,
        announceTable: tables.announce,
        api: res.api,
        longpoll: res.longPolled,
        dispatch: res.dispatched,
        notify: res.notified,
        totalSeconds: (Date.now() - benchStarted) / 1000,
      },
      null,
      2,
    ) + '\n',
  );
}

async function main(): Promise<void> {
  const opts = parseOptions();
  const fd = fdLimits();
  const connections = connectionsWithinFdLimit(opts, fd);
  progress(
    `${os.cpus().length} CPUs, node ${process.version}, ulimit -n ${fd.soft}; ` +
      `${connections} streams, ${opts.events} sustained events, ${opts.latencySamples} latency samples after ${opts.latencyWarmup} untimed, ${opts.fanouts} fan-outs; ` +
      `announcement to all with ${opts.announceUsers} users` +
      (opts.only ? `; only ${opts.only.join(', ')}` : ''),
  );

  if (!opts.tsx) useCompiledServers(progress);
  const jwtCost = measureJwt();
  const run: Run = { opts, fd, connections, users: makeUsers(connections), adminToken: sign(`bench-admin-${crypto.randomBytes(3).toString('hex')}`, 'admin') };

  const before = os.loadavg()[0];
  if (before > os.cpus().length * 0.5) {
    progress(`note: load average is ${before.toFixed(2)} on ${os.cpus().length} CPUs before the run; other work will make the figures noisy`);
  }
  const res = await runParts(run);
  const load = { before, after: os.loadavg()[0] };
  const tables: Tables = { streams: rows(res.streams.ours, res.streams.baseline, res.streams.socketio, connections), announce: announceRows(res.announced) };
  process.stdout.write(report(run, res, tables, jwtCost, load));
  writeResults(run, res, tables, jwtCost, load);
}

main()
  .then(() => runCleanups())
  .then(() => process.exit(0))
  .catch(async (err) => {
    if (isAborting()) process.stderr.write(`interrupted (${(err as Error)?.message ?? err})\n`);
    else process.stderr.write(`\nbench failed: ${(err as Error)?.stack ?? err}\n`);
    await runCleanups();
    process.exit(isAborting() ? 130 : 1);
  });
