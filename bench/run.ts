/**
 * `npm run bench [-- --connections N --events M --embedded --quick]`
 *
 * Runs the real server (`node --import tsx src/server.ts`, on a fresh PostgreSQL database, or on
 * embedded PGlite with --embedded) and then a naive raw node:http SSE server (baseline-server.ts),
 * each as a child process, and drives both with the same load client (load-client.ts, another
 * child process) holding N SSE streams. Prints a side-by-side table and writes
 * bench/results/latest.json. A benchmark, not a test: it prints what it measured on this machine.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { parseArgs } from 'node:util';
import jwt from 'jsonwebtoken';
import { Client } from 'pg';
import { nowMs, type BroadcastBody, type ClientStatus, type ConnectResult, type PhaseReport, type Stamp } from './protocol';
import {
  ROOT,
  assertNotAborting,
  fdLimits,
  isAborting,
  freePort,
  onCleanup,
  runCleanups,
  serversCompiled,
  useCompiledServers,
  sleep,
  startLoadClient,
  startServerProcess,
  type LoadClientProc,
  type ServerProc,
} from './procs';
import { postJson, readMetrics, type MetricsSample } from './http';
import { median, rng, summarize, table, checkedTable, type CheckedRow, type Row } from './report';
import { runAnnounce, type AnnounceResult } from './announce';
import { runNotify, notifyReport, type NotifyResult } from './notify';
import { runApi, apiReport, type ApiResult } from './api-load';
import { runLongPoll, longPollReport, type LongPollResult } from './longpoll';
import { runDispatch, dispatchReport, type DispatchResult } from './dispatch';

// ---------------------------------------------------------------------------------------------
// Options

const JWT_SECRET = 'bench-only-jwt-secret-0123456789-abcdefghijklmnop';
const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** File descriptors each process keeps for itself beyond one per stream (DB pool, stdio, tsx...). */
const FD_RESERVE = 256;
const RESULTS_FILE = path.join(ROOT, 'bench', 'results', 'latest.json');

type Role = 'client' | 'provider' | 'admin';
type TargetName = 'ours' | 'baseline' | 'socketio';
/** What `--only` selects: a side of the comparison, or the announcement-to-all phase. */
type PartName = TargetName | 'announce' | 'notify' | 'api' | 'longpoll' | 'dispatch';
const PARTS: readonly PartName[] = ['ours', 'baseline', 'socketio', 'announce', 'notify', 'api', 'longpoll', 'dispatch'];
/** Creating users through the API (--embedded) gives up after this long and skips the phase. */
const ANNOUNCE_CREATE_BUDGET_MS = 180_000;

interface Options {
  connections: number;
  events: number;
  latencySamples: number;
  /** Untimed sequential publishes before the latency samples, so they measure a warm server. */
  latencyWarmup: number;
  fanouts: number;
  publishers: number;
  connectConcurrency: number;
  embedded: boolean;
  quick: boolean;
  /** Parts to run (default all): `ours`, `baseline`, `announce`. */
  only?: PartName[];
  /** Users in the database for the announcement-to-all phase. */
  announceUsers: number;
  /** Users whose inbox is read after the announcement. */
  announceSample: number;
  seed: number;
  /** Repetitions of the ours/baseline pair (alternating order); the table shows medians. */
  rounds: number;
  /** Padding added to every announcement body, to see how cost grows with payload size. */
  payloadBytes: number;
  /** Write V8 CPU profiles of both servers to bench/results/profiles/. */
  profile: boolean;
  /** Run the servers and workers from their TypeScript sources under tsx instead of compiled. */
  tsx: boolean;
  /** Write heap snapshots of each server before and after connecting, to bench/results/heap/. */
  heapSnapshots: boolean;
  /** The NOTIFY phase: listening instances per configuration, fixed rates, seconds per step, publisher concurrency. */
  notifyInstances: number[];
  notifyRates: number[];
  notifySeconds: number;
  notifyConcurrency: number;
  notifyDebounceMs: number;
  /** The api phase: polling users, connections and seconds; webhook payments and concurrency. */
  pollUsers: number;
  pollConcurrency: number;
  pollSeconds: number;
  /** The api phase's open-loop polling step: offered requests/s (0 skips it) and seconds. */
  pollRate: number;
  pollRateSeconds: number;
  webhooks: number;
  webhookConcurrency: number;
  /** The api phase's polling steps against the baseline server too, after ours. */
  apiBaseline: boolean;
  /** The longpoll phase: polls held, POLL_MAX_WAIT_S, idle window (s), events in the CPU comparison, latency warm-up. */
  longPolls: number;
  longPollWait: number;
  longPollIdle: number;
  longPollCycles: number;
  longPollWarmup: number;
  /** The dispatch phase: users away (push on, no stream), events, their share to away users, off/on pairs, the backlog's outage (s) and rate. */
  dispatchAway: number;
  dispatchEvents: number;
  dispatchAwayShare: number;
  dispatchRounds: number;
  dispatchOutage: number;
  dispatchOutageRate: number;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string' },
      events: { type: 'string' },
      'latency-samples': { type: 'string' },
      'latency-warmup': { type: 'string' },
      fanouts: { type: 'string' },
      publishers: { type: 'string' },
      'connect-concurrency': { type: 'string' },
      embedded: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      'announce-users': { type: 'string' },
      'announce-sample': { type: 'string' },
      seed: { type: 'string' },
      'payload-bytes': { type: 'string' },
      rounds: { type: 'string' },
      profile: { type: 'boolean', default: false },
      'heap-snapshots': { type: 'boolean', default: false },
      tsx: { type: 'boolean', default: false },
      'notify-instances': { type: 'string' },
      'notify-rates': { type: 'string' },
      'notify-seconds': { type: 'string' },
      'notify-concurrency': { type: 'string' },
      'notify-debounce-ms': { type: 'string' },
      'poll-users': { type: 'string' },
      'poll-concurrency': { type: 'string' },
      'poll-seconds': { type: 'string' },
      'poll-rate': { type: 'string' },
      'poll-rate-seconds': { type: 'string' },
      webhooks: { type: 'string' },
      'webhook-concurrency': { type: 'string' },
      'api-baseline': { type: 'string' },
      'long-polls': { type: 'string' },
      'long-poll-wait': { type: 'string' },
      'long-poll-idle': { type: 'string' },
      'long-poll-cycles': { type: 'string' },
      'long-poll-warmup': { type: 'string' },
      'dispatch-away': { type: 'string' },
      'dispatch-events': { type: 'string' },
      'dispatch-away-share': { type: 'string' },
      'dispatch-rounds': { type: 'string' },
      'dispatch-outage': { type: 'string' },
      'dispatch-outage-rate': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      [
        'npm run bench -- [options]',
        '  --connections N          SSE streams to hold (default 2000; --quick 200)',
        '  --events M               user-addressed events in the sustained phase (default 2000; --quick 300)',
        '  --embedded               run the server on embedded PGlite (temporary DATA_DIR) instead of PostgreSQL',
        '  --quick                  200 connections, 300 events, fewer latency samples and fan-outs',
        '  --latency-samples K      sequential publish->receive samples (default 200; --quick 100)',
        '  --latency-warmup W       untimed sequential publishes before them, on every server (default 1000; --quick 100; 0 = cold)',
        '  --fanouts F              announcements to everyone, one at a time (default 5; --quick 3)',
        '  --publishers P           concurrent publishers in the sustained phase (default 4)',
        '  --connect-concurrency C  streams being opened at once (default 100)',
        '  --only PART[,PART]       run only these parts: ours, baseline, socketio, announce, notify, api, longpoll, dispatch (default: all)',
        '  --announce-users U       users in the database for the announcement to all (default 10000; --quick 1000)',
        '  --announce-sample S      users whose inbox, unread count and read-all are timed afterwards (default 50)',
        '  --seed S                 PRNG seed for target users (default 1)',
        '  --rounds R               repeat the pair R times, alternating which goes first; table shows medians (default 1)',
        '  --payload-bytes B        pad every announcement body by B characters (default 0; the API allows ~3900)',
        '  --profile                write V8 CPU profiles of the servers to bench/results/profiles/<side>/',
        '  --tsx                    run the servers from their sources under tsx (default: compiled with tsc, as production runs)',
        '  --heap-snapshots         heap snapshots of each server before and after connecting: bench/results/heap/<side>-{before,after}.heapsnapshot;',
        '                           longpoll: longpoll-{start,streams,polls} (before, after the streams, after the polls)',
        '                           (compare with: npx tsx bench/heap-summary.ts before after --per N)',
        '  --notify-instances LIST  NOTIFY phase: listening processes per configuration (default 0,2,5,20; 0 = write path alone)',
        '  --notify-rates LIST      NOTIFY phase: fixed publish rates in events/s, then a max step (default 50,100,250,500,1000,2000,4000,8000; --quick 100,500)',
        '  --notify-seconds S       NOTIFY phase: seconds per step (default 3; --quick 1.5)',
        '  --notify-concurrency C   NOTIFY phase: concurrent publishing transactions (default 8)',
        '  --notify-debounce-ms D   NOTIFY phase experiment: listeners debounce wakes by D ms before reading the log (default 0, as the server)',
        '  --poll-users U           api phase: users polling GET /api/events (default 500; --quick 100)',
        '  --poll-concurrency C     api phase: polling connections (default 32)',
        '  --poll-seconds S         api phase: seconds of polling (default 10; --quick 4)',
        '  --poll-rate R            api phase: then polls offered at R/s, open loop, timed from their scheduled send time (default 2000; 0 skips)',
        '  --poll-rate-seconds S    api phase: seconds of the open-loop polling step (default 10; --quick 4)',
        '  --webhooks W             api phase: payments settled by one burst of signed webhooks (default 500; --quick 100; 0 skips)',
        '  --webhook-concurrency C  api phase: webhook deliveries in flight (default 50)',
        '  --api-baseline BOOL      api phase: both polling steps against the raw node:http baseline too, after ours (default true)',
        '  --long-polls N           longpoll phase: long polls held at once, one user each, next to as many streams (default 10000; --quick 200)',
        '  --long-poll-wait S       longpoll phase: POLL_MAX_WAIT_S for its server and the wait every poll asks for (default 25; --quick 10)',
        '  --long-poll-idle S       longpoll phase: idle window for requests per minute per client (default 2 x the wait)',
        '  --long-poll-cycles E     longpoll phase: events to held polls, to nobody, and short polls, for CPU per cycle (default 2000; --quick 400)',
        '  --long-poll-warmup W     longpoll phase: untimed events to polls and streams before the latency samples (default 200; --quick 50)',
        '  --dispatch-away A        dispatch phase: users with push on and no stream, beside --connections streams (default 500; --quick 100)',
        '  --dispatch-events M      dispatch phase: sustained announcements per side (default 5000; --quick 1000)',
        '  --dispatch-away-share F  dispatch phase: share of them to away users, whose push is sent (default 0.25)',
        '  --dispatch-rounds R      dispatch phase: dispatcher off/on pairs, alternating which goes first (default 2; --quick 1)',
        '  --dispatch-outage S      dispatch phase: seconds the push service is down, standing for 600 (default 60; --quick 20; 0 skips the backlog)',
        '  --dispatch-outage-rate R dispatch phase: announcements to away users per second during the outage (default 50)',
        `PostgreSQL admin URL: $BENCH_PG_URL or ${PG_ADMIN_URL}`,
        '',
      ].join('\n'),
    );
    process.exit(0);
  }
  const int = (v: string | undefined, def: number, name: string, min = 1) => {
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
    return n;
  };
  const intList = (v: string | undefined, def: number[], name: string, min: number) =>
    v === undefined ? def : v.split(',').map((x) => int(x.trim(), 0, name, min));
  const positive = (v: string | undefined, def: number, name: string) => {
    if (v === undefined) return def;
    const n = Number(v);
    if (!(n > 0)) throw new Error(`--${name} must be a positive number`);
    return n;
  };
  const bool = (v: string | undefined, def: boolean, name: string) => {
    if (v === undefined) return def;
    if (v === 'true' || v === 'false') return v === 'true';
    throw new Error(`--${name} takes true or false; got "${v}"`);
  };
  const quick = values.quick ?? false;
  let only: PartName[] | undefined;
  if (values.only !== undefined) {
    only = values.only.split(',').map((x) => x.trim()) as PartName[];
    const bad = only.filter((x) => !PARTS.includes(x));
    if (bad.length || only.length === 0) throw new Error(`--only takes a comma-separated list of ${PARTS.join(', ')}; got "${values.only}"`);
  }
  return {
    quick,
    embedded: values.embedded ?? false,
    connections: int(values.connections, quick ? 200 : 2000, 'connections'),
    events: int(values.events, quick ? 300 : 2000, 'events', 0),
    latencySamples: int(values['latency-samples'], quick ? 100 : 200, 'latency-samples', 0),
    latencyWarmup: int(values['latency-warmup'], quick ? 100 : 1000, 'latency-warmup', 0),
    fanouts: int(values.fanouts, quick ? 3 : 5, 'fanouts', 0),
    publishers: int(values.publishers, 4, 'publishers'),
    connectConcurrency: int(values['connect-concurrency'], 100, 'connect-concurrency'),
    only,
    announceUsers: int(values['announce-users'], quick ? 1000 : 10_000, 'announce-users'),
    announceSample: int(values['announce-sample'], 50, 'announce-sample'),
    seed: int(values.seed, 1, 'seed', 0),
    profile: values.profile ?? false,
    heapSnapshots: values['heap-snapshots'] ?? false,
    tsx: values.tsx ?? false,
    payloadBytes: int(values['payload-bytes'], 0, 'payload-bytes', 0),
    rounds: int(values.rounds, 1, 'rounds'),
    notifyInstances: intList(values['notify-instances'], [0, 2, 5, 20], 'notify-instances', 0),
    notifyRates: intList(values['notify-rates'], quick ? [100, 500] : [50, 100, 250, 500, 1000, 2000, 4000, 8000], 'notify-rates', 1),
    notifySeconds: positive(values['notify-seconds'], quick ? 1.5 : 3, 'notify-seconds'),
    notifyConcurrency: int(values['notify-concurrency'], 8, 'notify-concurrency'),
    notifyDebounceMs: int(values['notify-debounce-ms'], 0, 'notify-debounce-ms', 0),
    pollUsers: int(values['poll-users'], quick ? 100 : 500, 'poll-users'),
    pollConcurrency: int(values['poll-concurrency'], 32, 'poll-concurrency'),
    pollSeconds: positive(values['poll-seconds'], quick ? 4 : 10, 'poll-seconds'),
    pollRate: int(values['poll-rate'], 2000, 'poll-rate', 0),
    pollRateSeconds: positive(values['poll-rate-seconds'], quick ? 4 : 10, 'poll-rate-seconds'),
    webhooks: int(values.webhooks, quick ? 100 : 500, 'webhooks', 0),
    webhookConcurrency: int(values['webhook-concurrency'], 50, 'webhook-concurrency'),
    apiBaseline: bool(values['api-baseline'], true, 'api-baseline'),
    longPolls: int(values['long-polls'], quick ? 200 : 10_000, 'long-polls'),
    longPollWait: int(values['long-poll-wait'], quick ? 10 : 25, 'long-poll-wait'),
    longPollIdle: positive(values['long-poll-idle'], 2 * int(values['long-poll-wait'], quick ? 10 : 25, 'long-poll-wait'), 'long-poll-idle'),
    longPollCycles: int(values['long-poll-cycles'], quick ? 400 : 2000, 'long-poll-cycles', 4),
    longPollWarmup: int(values['long-poll-warmup'], quick ? 50 : 200, 'long-poll-warmup', 0),
    dispatchAway: int(values['dispatch-away'], quick ? 100 : 500, 'dispatch-away'),
    dispatchEvents: int(values['dispatch-events'], quick ? 1000 : 5000, 'dispatch-events'),
    dispatchAwayShare: Math.min(1, positive(values['dispatch-away-share'], 0.25, 'dispatch-away-share')),
    dispatchRounds: int(values['dispatch-rounds'], quick ? 1 : 2, 'dispatch-rounds'),
    dispatchOutage: int(values['dispatch-outage'], quick ? 20 : 60, 'dispatch-outage', 0),
    dispatchOutageRate: int(values['dispatch-outage-rate'], 50, 'dispatch-outage-rate'),
  };
}

const started = Date.now();
const progress = (msg: string) => process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${msg}\n`);

// ---------------------------------------------------------------------------------------------
// Users and tokens

interface BenchUser {
  id: string;
  role: Role;
  token: string;
}

const KEY = crypto.createSecretKey(Buffer.from(JWT_SECRET, 'utf8'));
const sign = (sub: string, role: Role) => jwt.sign({ sub, role }, KEY, { algorithm: 'HS256', expiresIn: 3600 });

/** Distinct users, roles mixed: 45% client, 45% provider, 10% admin. */
function makeUsers(n: number): BenchUser[] {
  const run = crypto.randomBytes(3).toString('hex');
  return Array.from({ length: n }, (_, i) => {
    const role: Role = i % 10 === 9 ? 'admin' : i % 2 === 0 ? 'client' : 'provider';
    const id = `bench-${run}-${i}`;
    return { id, role, token: sign(id, role) };
  });
}

/** stack-notes §8: jsonwebtoken with a string secret vs a KeyObject, measured in this process. */
function measureJwt(): { signUs: number; verifyStringUs: number; verifyKeyObjectUs: number } {
  const token = jwt.sign({ sub: 'x', role: 'client' }, KEY, { algorithm: 'HS256', expiresIn: 3600 });
  const time = (n: number, fn: () => void) => {
    for (let i = 0; i < Math.min(50, n); i++) fn();
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    return Number(process.hrtime.bigint() - t) / 1e3 / n;
  };
  return {
    signUs: time(2000, () => jwt.sign({ sub: 'x', role: 'client' }, KEY, { algorithm: 'HS256', expiresIn: 3600 })),
    verifyStringUs: time(500, () => jwt.verify(token, JWT_SECRET, { algorithms: ['HS256'] })),
    verifyKeyObjectUs: time(2000, () => jwt.verify(token, KEY, { algorithms: ['HS256'] })),
  };
}

// ---------------------------------------------------------------------------------------------
// Database for the real server

async function pgAdmin(sql: string): Promise<void> {
  const c = new Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5_000 });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function prepareDatabase(embedded: boolean): Promise<{ env: Record<string, string>; kind: string; drop: () => Promise<void> }> {
  assertNotAborting();
  if (embedded) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-pglite-'));
    const drop = onCleanup(`remove ${dir}`, () => fs.rmSync(dir, { recursive: true, force: true }));
    return { env: { DATA_DIR: dir }, kind: 'pglite (embedded)', drop };
  }
  const name = `bench_${crypto.randomBytes(5).toString('hex')}`;
  try {
    await pgAdmin(`CREATE DATABASE ${name}`);
  } catch (err) {
    throw new Error(
      `cannot create a database on ${PG_ADMIN_URL.replace(/\/\/[^@]*@/, '//')} (${(err as Error).message}); ` +
        'start PostgreSQL, set BENCH_PG_URL, or run with --embedded',
      { cause: err },
    );
  }
  const drop = onCleanup(`drop database ${name}`, () => pgAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return { env: { DATABASE_URL: u.toString() }, kind: `postgresql (${name})`, drop };
}

// ---------------------------------------------------------------------------------------------
// One side of the comparison

interface TargetResult {
  name: TargetName;
  database: string | null;
  startupMs: number;
  clock: { offsetMs: number; rttMs: number };
  connect: Omit<ConnectResult, 'openedIndices'> & { ratePerSec: number; cpuPerConnectUs: number };
  memory: {
    before: { rssBytes: number; heapUsedBytes: number };
    after: { rssBytes: number; heapUsedBytes: number };
    rssPerConnKB: number;
    heapPerConnKB: number;
  };
  latency: { samples: number; p50Ms: number | null; p99Ms: number | null; maxMs: number | null; timeouts: number };
  /** The untimed warm-up's own figures: the same measure on the server just after connecting. */
  warmup: { samples: number; p50Ms: number | null };
  publishRtt: { p50Ms: number | null; p99Ms: number | null };
  fanout: {
    rounds: Array<{ recipients: number; expected: number; lastMs: number | null; reached: boolean }>;
    medianMs: number | null;
    maxMs: number | null;
    recipientP50Ms: number | null;
    recipientP99Ms: number | null;
    cpuPerDeliveryUs: number | null;
  };
  sustained: {
    events: number;
    accepted: number;
    publishers: number;
    publishSeconds: number;
    publishPerSec: number;
    deliveredPerSec: number;
    peakPerSec: number;
    perSecond: number[];
    latencyP50Ms: number | null;
    latencyP99Ms: number | null;
    latencyMaxMs: number | null;
    publishRttP50Ms: number | null;
    publishRttP99Ms: number | null;
    cpuPerEventUs: number | null;
    reached: boolean;
  };
  integrity: {
    expected: number;
    received: number;
    lost: number;
    duplicates: number;
    misdelivered: number;
    unexpected: number;
    publishErrors: Record<string, number>;
    streamsDroppedDuringRun: number;
    openAtEnd: number;
    client: ClientStatus;
  };
  server: { startupWarnings: string[]; warningCount: number; warnings: string[]; metricsAtEnd: Record<string, number>; shutdownMs: number; exitedGracefully: boolean };
}

async function gcAndRead(server: ServerProc): Promise<MetricsSample> {
  await server.rpc.call('gc', {}, 30_000);
  return readMetrics(server.url);
}

/** Offset of the load client's clock from ours, from the round trip with the smallest RTT. */
async function measureClock(client: LoadClientProc): Promise<{ offsetMs: number; rttMs: number }> {
  let best = { offsetMs: 0, rttMs: Infinity };
  for (let i = 0; i < 20; i++) {
    const a = nowMs();
    const { t } = await client.rpc.call<{ t: number }>('clock');
    const b = nowMs();
    if (b - a < best.rttMs) best = { offsetMs: t - (a + b) / 2, rttMs: b - a };
  }
  return best;
}

async function runTarget(name: TargetName, opts: Options, users: BenchUser[], adminToken: string): Promise<TargetResult> {
  let server: ServerProc | undefined;
  try {
    return await measureTarget(name, opts, users, adminToken, (s) => (server = s));
  } catch (err) {
    // A crashed server surfaces as refused connections somewhere; say what actually happened.
    const why = server?.exitReport();
    if (why && !isAborting()) throw new Error(why, { cause: err });
    throw err;
  }
}

async function measureTarget(
  name: TargetName,
  opts: Options,
  users: BenchUser[],
  adminToken: string,
  onServer: (s: ServerProc) => void,
): Promise<TargetResult> {
  const port = await freePort();
  let db: Awaited<ReturnType<typeof prepareDatabase>> | null = null;
  const env: Record<string, string> = { PORT: String(port), JWT_SECRET, LOG_LEVEL: 'warn' };
  if (name === 'ours') {
    db = await prepareDatabase(opts.embedded);
    Object.assign(env, db.env);
  }
  progress(`[${name}] starting server on :${port}${db ? ` (${db.kind})` : ''}`);
  const t0 = Date.now();
  const server = await startServerProcess({
    name: name === 'ours' ? 'server (src/server.ts)' : name === 'socketio' ? 'socket.io baseline server' : 'baseline server',
    entry: name === 'ours' ? 'src/server.ts' : name === 'socketio' ? 'bench/socketio-server.ts' : 'bench/baseline-server.ts',
    env,
    port,
    readyPath: name === 'ours' ? '/readyz' : '/healthz',
    nodeArgs: opts.profile
      ? ['--cpu-prof', `--cpu-prof-dir=${path.join(ROOT, 'bench', 'results', 'profiles', name)}`]
      : [],
  });
  onServer(server);
  const startupMs = Date.now() - t0;
  const client = await startLoadClient();
  const clock = await measureClock(client);

  // --- connect -------------------------------------------------------------------------------
  const m0 = await gcAndRead(server);
  if (opts.heapSnapshots) {
    const dir = path.join(ROOT, 'bench', 'results', 'heap');
    fs.mkdirSync(dir, { recursive: true });
    await server.rpc.call('heapsnapshot', { file: path.join(dir, `${name}-before.heapsnapshot`) }, 300_000);
  }
  progress(`[${name}] opening ${users.length} streams (${opts.connectConcurrency} at a time)`);
  const conn = await client.rpc.call<ConnectResult>(
    'connect',
    {
      transport: name === 'socketio' ? 'socketio' : 'sse',
      url: name === 'socketio' ? server.url : `${server.url}/api/events/stream`,
      tokens: users.map((u) => u.token),
      concurrency: opts.connectConcurrency,
      timeoutMs: 30_000,
    },
    600_000,
  );
  const mConnected = await readMetrics(server.url);
  await sleep(500);
  const m1 = await gcAndRead(server);
  const opened = conn.openedIndices;
  if (opts.heapSnapshots) {
    const dir = path.join(ROOT, 'bench', 'results', 'heap');
    progress(`[${name}] heap snapshot after connecting -> ${path.relative(ROOT, dir)}/${name}-after.heapsnapshot`);
    await server.rpc.call('heapsnapshot', { file: path.join(dir, `${name}-after.heapsnapshot`) }, 300_000);
  }
  progress(
    `[${name}] ${conn.opened}/${conn.requested} open in ${conn.durationMs.toFixed(0)} ms` +
      (conn.failed ? `; failures ${JSON.stringify(conn.failures)}` : ''),
  );
  if (opened.length === 0) throw new Error(`[${name}] no stream opened: ${JSON.stringify(conn.failures)}`);

  /** Waits for the client to hold `total` unique receipts of `phase`, giving up early if the server died. */
  const awaitPhase = async (phase: string, total: number, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      const w = await client.rpc.call<{ reached: boolean; unique: number }>('await', {
        phase,
        total,
        timeoutMs: Math.max(0, Math.min(1_000, left)),
      });
      if (w.reached || left <= 1_000) return w;
      const why = server.exitReport();
      if (why) throw new Error(why);
    }
  };

  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.publishers });
  const publishUrl = `${server.url}/api/broadcasts`;
  const expected = new Map<string, Int32Array>();
  const expect = (phase: string) => {
    let e = expected.get(phase);
    if (!e) expected.set(phase, (e = new Int32Array(users.length)));
    return e;
  };
  const publishErrors: Record<string, number> = {};
  const publishRtts: number[] = [];
  const publish = async (body: BroadcastBody): Promise<boolean> => {
    assertNotAborting();
    const t = nowMs();
    try {
      const r = await postJson(publishUrl, adminToken, body, agent);
      publishRtts.push(nowMs() - t);
      if (r.status === 202) return true;
      const k = `HTTP ${r.status}`;
      publishErrors[k] = (publishErrors[k] ?? 0) + 1;
      if (publishErrors[k] === 1) progress(`[${name}] publish answered ${r.status}: ${r.body.slice(0, 200)}`);
    } catch (err) {
      const why = server.exitReport();
      if (why) throw new Error(why, { cause: err });
      const k = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      publishErrors[k] = (publishErrors[k] ?? 0) + 1;
    }
    return false;
  };
  const padding = opts.payloadBytes > 0 ? 'x'.repeat(opts.payloadBytes) : undefined;
  const stampBody = (s: Stamp) => JSON.stringify(padding === undefined ? s : { ...s, x: padding });
  const pick = rng(opts.seed);
  const randomOpened = () => opened[Math.floor(pick() * opened.length)];

  // --- latency: one event at a time to one user, the next only after it arrived --------------
  // First untimed ('warm'), as a server that has been running is: right after the connect phase
  // the publish path is still cold (V8 has not optimized it; each pooled connection prepares its
  // statements on first use), and 200 samples taken then measured ours at 4.5-7 ms where the
  // same server, warm, answers in under 3. Every server gets the same warm-up.
  const sequential = async (phase: 'warm' | 'lat', count: number) => {
    let sent = 0;
    let timeouts = 0;
    for (let s = 0; s < count; s++) {
      const idx = randomOpened();
      const ok = await publish({ title: 'bench', body: stampBody({ p: phase, s, t: nowMs(), u: idx }), userIds: [users[idx].id] });
      if (!ok) continue;
      expect(phase)[idx]++;
      sent++;
      const w = await awaitPhase(phase, sent, 5_000);
      if (!w.reached && ++timeouts >= 3) {
        progress(`[${name}] ${phase === 'lat' ? 'latency' : 'warm-up'}: 3 events never arrived; phase cut short`);
        break;
      }
    }
    return timeouts;
  };
  if (opts.latencyWarmup > 0) {
    progress(`[${name}] warm-up: ${opts.latencyWarmup} sequential events, untimed`);
    await sequential('warm', opts.latencyWarmup);
    publishRtts.splice(0);
  }
  progress(`[${name}] latency: ${opts.latencySamples} sequential events`);
  const latTimeouts = await sequential('lat', opts.latencySamples);
  const latRtts = publishRtts.splice(0);

  // --- fan-out: one announcement to everyone, one round at a time ----------------------------
  progress(`[${name}] fan-out: ${opts.fanouts} announcements to all ${opened.length}`);
  const mFan0 = await readMetrics(server.url);
  const fanRounds: TargetResult['fanout']['rounds'] = [];
  for (let r = 0; r < opts.fanouts; r++) {
    const phase = `fan${r}`;
    const t = nowMs();
    const ok = await publish({ title: 'bench', body: stampBody({ p: phase, s: 0, t }), all: true });
    if (!ok) {
      fanRounds.push({ recipients: 0, expected: 0, lastMs: null, reached: false });
      continue;
    }
    const e = expect(phase);
    for (const i of opened) e[i]++;
    const w = await awaitPhase(phase, opened.length, 30_000);
    const rep = await client.rpc.call<PhaseReport>('report', { phase });
    fanRounds.push({ recipients: w.unique, expected: opened.length, lastMs: rep.lastRecv === null ? null : rep.lastRecv - t, reached: w.reached });
    await sleep(100);
  }
  const mFan1 = await readMetrics(server.url);
  const fanDeliveries = fanRounds.reduce((a, r) => a + r.recipients, 0);

  // --- sustained: M user-addressed events from P concurrent publishers -----------------------
  progress(`[${name}] sustained: ${opts.events} events to random users, ${opts.publishers} publishers`);
  const targets = Array.from({ length: opts.events }, randomOpened);
  const mSus0 = await readMetrics(server.url);
  let next = 0;
  let accepted = 0;
  const tSus = nowMs();
  await Promise.all(
    Array.from({ length: opts.publishers }, async () => {
      while (next < targets.length) {
        const s = next++;
        const idx = targets[s];
        const ok = await publish({ title: 'bench', body: stampBody({ p: 'sus', s, t: nowMs(), u: idx }), userIds: [users[idx].id] });
        if (ok) {
          expect('sus')[idx]++;
          accepted++;
        }
      }
    }),
  );
  const tSusPublished = nowMs();
  const susWait = await awaitPhase('sus', accepted, 30_000);
  const mSus1 = await readMetrics(server.url);
  const susRtts = publishRtts.splice(0);

  // Late duplicates or strays would show up within this pause.
  await sleep(500);

  // --- reports ---------------------------------------------------------------------------------
  const phaseNames = [...(opts.latencyWarmup > 0 ? ['warm'] : []), 'lat', ...fanRounds.map((_, r) => `fan${r}`), 'sus'];
  const reports = new Map<string, PhaseReport>();
  for (const p of phaseNames) reports.set(p, await client.rpc.call<PhaseReport>('report', { phase: p }));
  let expectedTotal = 0;
  let received = 0;
  let lost = 0;
  let unexpected = 0;
  let duplicates = 0;
  let misdelivered = 0;
  for (const p of phaseNames) {
    const rep = reports.get(p)!;
    const exp = expected.get(p) ?? new Int32Array(users.length);
    for (let i = 0; i < users.length; i++) {
      const got = rep.perStream[i] ?? 0;
      expectedTotal += exp[i];
      received += got;
      if (got < exp[i]) lost += exp[i] - got;
      else unexpected += got - exp[i];
    }
    duplicates += rep.duplicates;
    misdelivered += rep.misdelivered;
  }
  const status = await client.rpc.call<ClientStatus>('status');
  const mEnd = await readMetrics(server.url);

  const lat = summarize(reports.get('lat')!.latencies);
  const warm = summarize(reports.get('warm')?.latencies ?? []);
  const fanLat = summarize(fanRounds.flatMap((_, r) => reports.get(`fan${r}`)!.latencies));
  const sus = reports.get('sus')!;
  const susLat = summarize(sus.latencies);
  const perSecond: number[] = [];
  for (const t of sus.recvTimes) {
    const b = Math.max(0, Math.floor((t - tSus) / 1000));
    while (perSecond.length <= b) perSecond.push(0);
    perSecond[b]++;
  }
  const susSpanSec = sus.lastRecv === null ? null : (sus.lastRecv - tSus) / 1000;
  const rtt = summarize([...latRtts]);

  // --- stop ------------------------------------------------------------------------------------
  progress(`[${name}] stopping`);
  await client.stop();
  const stopped = await server.stop();
  if (db) await db.drop();
  agent.destroy();

  const fanLast = fanRounds.map((r) => r.lastMs).filter((v): v is number => v !== null);
  const { openedIndices: _omit, ...connRest } = conn;
  return {
    name,
    database: db?.kind ?? null,
    startupMs,
    clock,
    connect: {
      ...connRest,
      ratePerSec: conn.durationMs > 0 ? conn.opened / (conn.durationMs / 1000) : 0,
      cpuPerConnectUs: ((mConnected.cpuSeconds - m0.cpuSeconds) * 1e6) / Math.max(1, conn.opened),
    },
    memory: {
      before: { rssBytes: m0.rssBytes, heapUsedBytes: m0.heapUsedBytes },
      after: { rssBytes: m1.rssBytes, heapUsedBytes: m1.heapUsedBytes },
      rssPerConnKB: (m1.rssBytes - m0.rssBytes) / 1024 / Math.max(1, conn.opened),
      heapPerConnKB: (m1.heapUsedBytes - m0.heapUsedBytes) / 1024 / Math.max(1, conn.opened),
    },
    latency: { samples: lat.n, p50Ms: lat.p50, p99Ms: lat.p99, maxMs: lat.max, timeouts: latTimeouts },
    warmup: { samples: warm.n, p50Ms: warm.p50 },
    publishRtt: { p50Ms: rtt.p50, p99Ms: rtt.p99 },
    fanout: {
      rounds: fanRounds,
      medianMs: median(fanLast),
      maxMs: fanLast.length ? Math.max(...fanLast) : null,
      recipientP50Ms: fanLat.p50,
      recipientP99Ms: fanLat.p99,
      cpuPerDeliveryUs: fanDeliveries ? ((mFan1.cpuSeconds - mFan0.cpuSeconds) * 1e6) / fanDeliveries : null,
    },
    sustained: {
      events: opts.events,
      accepted,
      publishers: opts.publishers,
      publishSeconds: (tSusPublished - tSus) / 1000,
      publishPerSec: accepted / Math.max(1e-9, (tSusPublished - tSus) / 1000),
      deliveredPerSec: susSpanSec ? sus.unique / susSpanSec : 0,
      peakPerSec: perSecond.length ? Math.max(...perSecond) : 0,
      perSecond,
      latencyP50Ms: susLat.p50,
      latencyP99Ms: susLat.p99,
      latencyMaxMs: susLat.max,
      publishRttP50Ms: summarize(susRtts).p50,
      publishRttP99Ms: summarize(susRtts).p99,
      cpuPerEventUs: accepted ? ((mSus1.cpuSeconds - mSus0.cpuSeconds) * 1e6) / accepted : null,
      reached: susWait.reached,
    },
    integrity: {
      expected: expectedTotal,
      received,
      lost,
      duplicates,
      misdelivered,
      unexpected,
      publishErrors,
      streamsDroppedDuringRun: status.closedAfterOpen,
      openAtEnd: status.open,
      client: status,
    },
    server: {
      startupWarnings: server.startupWarnings,
      warningCount: server.warningCount,
      warnings: server.warnings,
      metricsAtEnd: pickMetrics(mEnd.all),
      shutdownMs: stopped.ms,
      exitedGracefully: stopped.exitedGracefully,
    },
  };
}

function pickMetrics(all: Record<string, number>): Record<string, number> {
  const keep = [
    'process_resident_memory_bytes',
    'nodejs_heap_size_used_bytes',
    'process_cpu_seconds_total',
    'sse_open_streams',
    'sse_connected_users',
    'sse_streams_opened_total',
    'sse_slow_consumers_dropped_total',
    'events_published_total',
    'events_delivered_total',
    'http_errors_total',
    'nodejs_eventloop_lag_p99_seconds',
    'process_open_fds',
  ];
  return Object.fromEntries(keep.filter((k) => k in all).map((k) => [k, all[k]]));
}

// ---------------------------------------------------------------------------------------------
// Output

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

function rows(ours: TargetResult[], baseline: TargetResult[], socketio: TargetResult[], n: number): Row[] {
  return rowDefs(n).map((d) => {
    const agg = (list: TargetResult[]) => {
      const vals = list.map(d.f).filter((v): v is number => v !== null && !Number.isNaN(v));
      if (vals.length === 0) return null;
      return d.agg === 'sum' ? vals.reduce((a, v) => a + v, 0) : median(vals);
    };
    return { metric: d.metric, unit: d.unit, ours: agg(ours), baseline: agg(baseline), socketio: agg(socketio), better: d.better, digits: d.digits };
  });
}

// ---------------------------------------------------------------------------------------------
// The announcement-to-all phase (announce.ts): no baseline equivalent, so a table of its own.

function announceRows(list: AnnounceResult[]): CheckedRow[] {
  const done = list.filter((r) => r.skipped === null);
  if (done.length === 0) return [];
  const first = done[0];
  const med = (f: (r: AnnounceResult) => number | null) => median(done.map(f).filter((v): v is number => v !== null && !Number.isNaN(v)));
  const sum = (f: (r: AnnounceResult) => number) => done.reduce((a, r) => a + f(r), 0);
  const S = first.sample;
  const how = first.users.via === 'sql-insert' ? 'one INSERT via pg' : 'GET /api/me, 50 at a time';
  const after = first.rows.method === 'after-stop' ? ', counted after stop' : '';
  return [
    { metric: 'users in the database (half client, half provider)', unit: 'users', value: med((r) => r.users.created), digits: 0, expect: first.users.requested },
    { metric: `time to create them (${how})`, unit: 's', value: med((r) => r.users.seconds), digits: 2, better: 'lower' },
    { metric: 'time to send: POST /api/broadcasts {all} -> 202', unit: 'ms', value: med((r) => r.send.ms), digits: 1, better: 'lower' },
    { metric: 'server CPU for the send', unit: 'ms', value: med((r) => r.send.serverCpuMs), digits: 1, better: 'lower' },
    { metric: `rows written by the send: notifications${after}`, unit: 'rows', value: med((r) => r.rows.sendNotifications), digits: 0, expect: 1 },
    { metric: 'rows written by the send: notification_reads', unit: 'rows', value: med((r) => r.rows.sendReads), digits: 0, expect: 0 },
    { metric: `sampled users (random), requests one at a time`, unit: 'users', value: S, digits: 0 },
    { metric: 'GET /api/notifications p50, before the announcement', unit: 'ms', value: med((r) => r.before.inbox.p50Ms), digits: 2, better: 'lower' },
    { metric: 'GET /api/notifications p50, afterwards (inbox)', unit: 'ms', value: med((r) => r.inbox.p50Ms), digits: 2, better: 'lower' },
    { metric: 'GET /api/notifications p99, afterwards', unit: 'ms', value: med((r) => r.inbox.p99Ms), digits: 2, better: 'lower' },
    { metric: 'GET /api/me p50, before the announcement', unit: 'ms', value: med((r) => r.before.me.p50Ms), digits: 2, better: 'lower' },
    { metric: 'GET /api/me p50, afterwards (unread count)', unit: 'ms', value: med((r) => r.me.p50Ms), digits: 2, better: 'lower' },
    { metric: 'GET /api/me p99, afterwards', unit: 'ms', value: med((r) => r.me.p99Ms), digits: 2, better: 'lower' },
    { metric: 'POST /api/notifications/read-all p50', unit: 'ms', value: med((r) => r.readAll.p50Ms), digits: 2, better: 'lower' },
    { metric: 'POST /api/notifications/read-all p99', unit: 'ms', value: med((r) => r.readAll.p99Ms), digits: 2, better: 'lower' },
    { metric: `rows written by read-all: notification_reads${after}`, unit: 'rows', value: med((r) => r.rows.readAllReads), digits: 0, expect: S },
    { metric: `rows written by read-all: notifications marked read${after}`, unit: 'rows', value: med((r) => r.rows.readAllMarked), digits: 0, expect: 0 },
    { metric: 'errors (status, announcement missing, unread count)', unit: 'count', value: sum((r) => r.errors.count), digits: 0, expect: 0 },
    { metric: 'server warn/error log lines during run', unit: 'lines', value: sum((r) => r.server.warningCount), digits: 0, expect: 0 },
  ];
}

function announceReport(list: AnnounceResult[], tableRows: CheckedRow[], opts: Options): string[] {
  const out: string[] = [''];
  const first = list[0];
  out.push(
    `Announcement to all: ${first.users.requested} users, 1 POST /api/broadcasts {all: true}, then ${opts.announceSample} random users ` +
      `read their inbox and unread count and mark all read; own server and fresh database (${first.database}); no baseline equivalent` +
      (list.length > 1 ? `; medians of ${list.length} rounds (counts are totals)` : ''),
  );
  out.push('');
  if (tableRows.length) out.push(checkedTable(tableRows, opts.embedded ? 'ours (pglite)' : 'ours (postgres)'));
  for (const r of list) {
    if (r.skipped) {
      out.push(`announce: SKIPPED: ${r.skipped}`);
      continue;
    }
    out.push(
      `announce: startup ${r.startupMs} ms; users created at ${r.users.perSec.toFixed(0)}/s; event ${r.send.eventId ?? 'n/a'}; ` +
        (r.rows.method === 'after-stop'
          ? `rows counted after the server stopped (PGlite is the server's while it runs): ${JSON.stringify(r.rows.afterReadAll)}`
          : `rows before ${JSON.stringify(r.rows.before)}, after send ${JSON.stringify(r.rows.afterSend)}, after read-all ${JSON.stringify(r.rows.afterReadAll)}`),
    );
    for (const w of r.server.startupWarnings) out.push(`  announce server at startup: ${w}`);
    if (r.server.warningCount > 0) out.push(`  announce server logged ${r.server.warningCount} warn/error lines, first: ${r.server.warnings[0]}`);
    if (r.errors.count > 0) {
      out.push(`  announce: ${r.errors.count} errors${r.errors.count > r.errors.first.length ? ` (first ${r.errors.first.length})` : ''}:`);
      for (const e of r.errors.first) out.push(`    ${e}`);
    }
  }
  out.push('');
  return out;
}

async function main(): Promise<void> {
  const opts = parseOptions();
  const fd = fdLimits();
  const maxConnections = Math.max(1, fd.soft - FD_RESERVE);
  let connections = opts.connections;
  if (connections > maxConnections) {
    progress(
      `ulimit -n is ${fd.soft} (hard ${fd.hard}); server and client each need one fd per stream, ` +
        `so --connections is lowered from ${connections} to ${maxConnections}. Raise it with \`ulimit -n\`.`,
    );
    connections = maxConnections;
  }
  progress(
    `${os.cpus().length} CPUs, node ${process.version}, ulimit -n ${fd.soft}; ` +
      `${connections} streams, ${opts.events} sustained events, ${opts.latencySamples} latency samples after ${opts.latencyWarmup} untimed, ${opts.fanouts} fan-outs; ` +
      `announcement to all with ${opts.announceUsers} users` +
      (opts.only ? `; only ${opts.only.join(', ')}` : ''),
  );

  if (!opts.tsx) useCompiledServers(progress);
  const jwtCost = measureJwt();
  const users = makeUsers(connections);
  const adminToken = sign(`bench-admin-${crypto.randomBytes(3).toString('hex')}`, 'admin');

  const load0 = os.loadavg()[0];
  if (load0 > os.cpus().length * 0.5) {
    progress(`note: load average is ${load0.toFixed(2)} on ${os.cpus().length} CPUs before the run; other work will make the figures noisy`);
  }
  const selected = (part: PartName) => !opts.only || opts.only.includes(part);
  const results: Record<TargetName, TargetResult[]> = { ours: [], baseline: [], socketio: [] };
  const announced: AnnounceResult[] = [];
  for (let round = 0; round < opts.rounds; round++) {
    // Alternate which side goes first, so neither always gets the cold (or the warm) machine.
    const order: TargetName[] = round % 2 === 0 ? ['ours', 'baseline', 'socketio'] : ['socketio', 'baseline', 'ours'];
    for (const name of order) {
      if (!selected(name)) continue;
      if (opts.rounds > 1) progress(`round ${round + 1}/${opts.rounds}`);
      results[name].push(await runTarget(name, opts, users, adminToken));
    }
    if (selected('announce')) {
      if (opts.rounds > 1) progress(`round ${round + 1}/${opts.rounds}`);
      announced.push(
        await runAnnounce(
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
        ),
      );
    }
  }
  let apiResult: ApiResult | null = null;
  if (selected('api')) {
    apiResult = await runApi(
      {
        pollUsers: opts.pollUsers,
        pollConcurrency: opts.pollConcurrency,
        pollSeconds: opts.pollSeconds,
        pollRate: opts.pollRate,
        pollRateSeconds: opts.pollRateSeconds,
        webhooks: opts.webhooks,
        webhookConcurrency: opts.webhookConcurrency,
        baseline: opts.apiBaseline,
        embedded: opts.embedded,
        profile: opts.profile,
      },
      { jwtSecret: JWT_SECRET, progress, prepareDatabase },
    );
  }
  let longPolled: LongPollResult | null = null;
  if (selected('longpoll')) {
    // The server holds one fd per poll and per stream, the two clients one each: streams get what is left.
    const cycleUsers = opts.quick ? 50 : 100;
    const polls = Math.min(opts.longPolls, Math.max(1, fd.soft - FD_RESERVE - 2 * cycleUsers - 1));
    const streams = Math.min(polls, Math.max(1, fd.soft - FD_RESERVE - 2 * cycleUsers - polls));
    if (polls < opts.longPolls || streams < polls) {
      progress(`ulimit -n is ${fd.soft}: longpoll holds ${polls} polls (of ${opts.longPolls}) next to ${streams} streams. Raise it with \`ulimit -n\`.`);
    }
    longPolled = await runLongPoll(
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
  let dispatched: DispatchResult | null = null;
  if (selected('dispatch')) {
    dispatched = await runDispatch(
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
  let notified: NotifyResult | null = null;
  if (selected('notify')) {
    notified = await runNotify(
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
  const load1 = os.loadavg()[0];

  const oursLabel = results.ours.length ? (opts.embedded ? 'ours (pglite)' : 'ours (postgres)') : 'ours';
  const tableRows = rows(results.ours, results.baseline, results.socketio, connections);
  const comparison = results.ours.length + results.baseline.length + results.socketio.length > 0;
  const out: string[] = [];
  if (comparison) {
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
    for (const r of [...results.ours, ...results.baseline, ...results.socketio]) {
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
    }
  }
  const announceTableRows = announceRows(announced);
  if (announced.length) out.push(...announceReport(announced, announceTableRows, opts));
  if (apiResult) out.push(...apiReport(apiResult));
  if (longPolled) out.push(...longPollReport(longPolled));
  if (dispatched) out.push(...dispatchReport(dispatched));
  if (notified) out.push(...notifyReport(notified));
  out.push(
    `jsonwebtoken HS256 in the driver: sign ${jwtCost.signUs.toFixed(1)} us; verify with a string secret ` +
      `${jwtCost.verifyStringUs.toFixed(1)} us, with a KeyObject ${jwtCost.verifyKeyObjectUs.toFixed(1)} us ` +
      `(${(jwtCost.verifyStringUs / jwtCost.verifyKeyObjectUs).toFixed(1)}x)`,
  );
  out.push(
    `Total ${((Date.now() - started) / 1000).toFixed(1)} s; load average ${load0.toFixed(2)} before, ${load1.toFixed(2)} after. ` +
      `JSON: ${path.relative(ROOT, RESULTS_FILE)}`,
  );
  out.push('');
  process.stdout.write(out.join('\n') + '\n');

  fs.mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
  fs.writeFileSync(
    RESULTS_FILE,
    JSON.stringify(
      {
        at: new Date().toISOString(),
        machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryMB: Math.round(os.totalmem() / 2 ** 20), node: process.version },
        options: { ...opts, connections, requestedConnections: opts.connections, fdLimit: fd, serversCompiled: serversCompiled() },
        jwt: jwtCost,
        loadAverage: { before: load0, after: load1 },
        ours: results.ours,
        baseline: results.baseline,
        socketio: results.socketio,
        table: comparison ? tableRows : [],
        announce: announced,
        announceTable: announceTableRows,
        api: apiResult,
        longpoll: longPolled,
        dispatch: dispatched,
        notify: notified,
        totalSeconds: (Date.now() - started) / 1000,
      },
      null,
      2,
    ) + '\n',
  );
}

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

main()
  .then(() => runCleanups())
  .then(() => process.exit(0))
  .catch(async (err) => {
    if (isAborting()) process.stderr.write(`interrupted (${(err as Error)?.message ?? err})\n`);
    else process.stderr.write(`\nbench failed: ${(err as Error)?.stack ?? err}\n`);
    await runCleanups();
    process.exit(isAborting() ? 130 : 1);
  });
