/**
 * The streams comparison, one side at a time: our server (src/server.ts, on a fresh database), the
 * raw node:http baseline or the Socket.IO one, each holding the same users' streams through the
 * load client while the same events are published: connect, latency, fan-out, sustained, integrity.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ClientStatus, ConnectResult } from './protocol';
import { measureClock, ROOT, isAborting, startLoadClient, startServerProcess, type LoadClientProc, type PrepareDatabase, type ServerProc } from './procs';
import { readMetrics, type MetricsSample } from './http';
import { median, summarize } from './report';
import { freePort } from '../test/support/free-port';
import { sleep } from '../test/support/sleep';
import { prepareDatabase } from './database';
import { progress } from './progress';
import { JWT_SECRET, type BenchUser } from './users';
import { StreamsSession } from './streams-session';
import { runFanout, runLatency, runSustained, tally, type FanRound, type Sustained, type Tally } from './streams-phases';
import type { Options, TargetName } from './options';

export interface TargetResult {
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
    rounds: FanRound[];
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
  server: {
    startupWarnings: string[];
    warningCount: number;
    warnings: string[];
    metricsAtEnd: Record<string, number>;
    shutdownMs: number;
    exitedGracefully: boolean;
  };
}

type Database = Awaited<ReturnType<PrepareDatabase>>;

async function gcAndRead(server: ServerProc): Promise<MetricsSample> {
  await server.rpc.call('gc', {}, 30_000);
  return readMetrics(server.url);
}

export async function runTarget(name: TargetName, opts: Options, users: BenchUser[], adminToken: string): Promise<TargetResult> {
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
  const { server, db, startupMs } = await startTarget(name, opts);
  onServer(server);
  const client = await startLoadClient();
  const clock = await measureClock(client);
  const connected = await connectStreams(name, opts, server, client, users);
  const s = new StreamsSession(name, opts, users, adminToken, server, client, connected.conn.openedIndices);
  const latency = await runLatency(s);
  const fanout = await runFanout(s);
  const sustained = await runSustained(s);
  // Late duplicates or strays would show up within this pause.
  await sleep(500);
  const counted = await tally(s, fanout.rounds.length);
  const mEnd = await readMetrics(server.url);

  progress(`[${name}] stopping`);
  await client.stop();
  const stopped = await server.stop();
  if (db) await db.drop();
  s.close();

  return {
    name,
    database: db?.kind ?? null,
    startupMs,
    clock,
    ...connectFigures(connected),
    ...latencyFigures(counted, latency),
    fanout: fanoutFigures(counted, fanout),
    sustained: sustainedFigures(opts, counted, sustained),
    integrity: integrityFigures(s, counted),
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

/** One side's server, on a database of its own for ours. */
async function startTarget(name: TargetName, opts: Options): Promise<{ server: ServerProc; db: Database | null; startupMs: number }> {
  const port = await freePort();
  let db: Database | null = null;
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
    nodeArgs: opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(ROOT, 'bench', 'results', 'profiles', name)}`] : [],
  });
  return { server, db, startupMs: Date.now() - t0 };
}

interface Connected {
  conn: ConnectResult;
  /** After GC before connecting, right after connecting, and after GC once connected. */
  m0: MetricsSample;
  mConnected: MetricsSample;
  m1: MetricsSample;
}

/** Opens every user's stream (or Socket.IO socket), with heap and RSS read after GC before and after. */
async function connectStreams(name: TargetName, opts: Options, server: ServerProc, client: LoadClientProc, users: BenchUser[]): Promise<Connected> {
  const heapDir = path.join(ROOT, 'bench', 'results', 'heap');
  const m0 = await gcAndRead(server);
  if (opts.heapSnapshots) {
    fs.mkdirSync(heapDir, { recursive: true });
    await server.rpc.call('heapsnapshot', { file: path.join(heapDir, `${name}-before.heapsnapshot`) }, 300_000);
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
  if (opts.heapSnapshots) {
    progress(`[${name}] heap snapshot after connecting -> ${path.relative(ROOT, heapDir)}/${name}-after.heapsnapshot`);
    await server.rpc.call('heapsnapshot', { file: path.join(heapDir, `${name}-after.heapsnapshot`) }, 300_000);
  }
  progress(
    `[${name}] ${conn.opened}/${conn.requested} open in ${conn.durationMs.toFixed(0)} ms` + (conn.failed ? `; failures ${JSON.stringify(conn.failures)}` : ''),
  );
  if (conn.openedIndices.length === 0) throw new Error(`[${name}] no stream opened: ${JSON.stringify(conn.failures)}`);
  return { conn, m0, mConnected, m1 };
}

function connectFigures({ conn, m0, mConnected, m1 }: Connected): Pick<TargetResult, 'connect' | 'memory'> {
  const { openedIndices: _omit, ...connRest } = conn;
  return {
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
  };
}

function latencyFigures(t: Tally, latency: { timeouts: number; rtts: number[] }): Pick<TargetResult, 'latency' | 'warmup' | 'publishRtt'> {
  const lat = summarize(t.reports.get('lat')!.latencies);
  const warm = summarize(t.reports.get('warm')?.latencies ?? []);
  const rtt = summarize([...latency.rtts]);
  return {
    latency: { samples: lat.n, p50Ms: lat.p50, p99Ms: lat.p99, maxMs: lat.max, timeouts: latency.timeouts },
    warmup: { samples: warm.n, p50Ms: warm.p50 },
    publishRtt: { p50Ms: rtt.p50, p99Ms: rtt.p99 },
  };
}

function fanoutFigures(t: Tally, fanout: { rounds: FanRound[]; m0: MetricsSample; m1: MetricsSample }): TargetResult['fanout'] {
  const fanLat = summarize(fanout.rounds.flatMap((_, r) => t.reports.get(`fan${r}`)!.latencies));
  const fanLast = fanout.rounds.map((r) => r.lastMs).filter((v): v is number => v !== null);
  const deliveries = fanout.rounds.reduce((a, r) => a + r.recipients, 0);
  return {
    rounds: fanout.rounds,
    medianMs: median(fanLast),
    maxMs: fanLast.length ? Math.max(...fanLast) : null,
    recipientP50Ms: fanLat.p50,
    recipientP99Ms: fanLat.p99,
    cpuPerDeliveryUs: deliveries ? ((fanout.m1.cpuSeconds - fanout.m0.cpuSeconds) * 1e6) / deliveries : null,
  };
}

function sustainedFigures(opts: Options, t: Tally, sus: Sustained): TargetResult['sustained'] {
  const rep = t.reports.get('sus')!;
  const lat = summarize(rep.latencies);
  const perSecond: number[] = [];
  for (const at of rep.recvTimes) {
    const b = Math.max(0, Math.floor((at - sus.tStart) / 1000));
    while (perSecond.length <= b) perSecond.push(0);
    perSecond[b]++;
  }
  const spanSec = rep.lastRecv === null ? null : (rep.lastRecv - sus.tStart) / 1000;
  return {
    events: opts.events,
    accepted: sus.accepted,
    publishers: opts.publishers,
    publishSeconds: (sus.tPublished - sus.tStart) / 1000,
    publishPerSec: sus.accepted / Math.max(1e-9, (sus.tPublished - sus.tStart) / 1000),
    deliveredPerSec: spanSec ? rep.unique / spanSec : 0,
    peakPerSec: perSecond.length ? Math.max(...perSecond) : 0,
    perSecond,
    latencyP50Ms: lat.p50,
    latencyP99Ms: lat.p99,
    latencyMaxMs: lat.max,
    publishRttP50Ms: summarize(sus.rtts).p50,
    publishRttP99Ms: summarize(sus.rtts).p99,
    cpuPerEventUs: sus.accepted ? ((sus.m1.cpuSeconds - sus.m0.cpuSeconds) * 1e6) / sus.accepted : null,
    reached: sus.reached,
  };
}

function integrityFigures(s: StreamsSession, t: Tally): TargetResult['integrity'] {
  return {
    expected: t.expected,
    received: t.received,
    lost: t.lost,
    duplicates: t.duplicates,
    misdelivered: t.misdelivered,
    unexpected: t.unexpected,
    publishErrors: s.publishErrors,
    streamsDroppedDuringRun: t.status.closedAfterOpen,
    openAtEnd: t.status.open,
    client: t.status,
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
