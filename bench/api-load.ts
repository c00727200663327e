/**
 * The `api` phase of `npm run bench` (`--only api`): request-shaped load on our server. Its own
 * server (src/server.ts) on its own fresh database, with POLL_RATE_LIMIT_PER_MIN raised out of the
 * way and the fake Paystack (fakes/fake-paystack.ts) running in the driver. Both polling steps
 * then run again, same code and parameters, against bench/baseline-server.ts (raw node:http, the
 * events in an array): a lower bound for polling on this machine, measured in the same run.
 *
 * - polling: U users poll `GET /api/events?after=<their lastEventId>` from C kept-alive
 *   connections, closed loop, for S seconds, while an admin announces to `all` every 100 ms.
 *   Requests/s, latency p50/p99, non-200s; then one last poll each, and every user must have
 *   received every announcement made after their first poll, in id order, once. This is the
 *   saturation throughput; its latency is not the product's latency target (see the next item).
 * - polling at a fixed rate (open loop): the same users, cursors and announcements, but requests
 *   scheduled at R per second for S2 seconds whatever the server does, each timed from its
 *   scheduled send time (as wrk2 does), over up to 64 kept-alive sockets. A closed loop at
 *   saturation cannot answer "p99 at 2,000 req/s": by Little's law its mean latency is
 *   connections / throughput whatever the server does, and a stalled server simply gets fewer
 *   requests (coordinated omission). Same integrity check afterwards.
 * - the baseline (unless --api-baseline false): both polling steps against the baseline server,
 *   right after ours' and while ours idles, so that the two are measured next to each other and
 *   neither right after the webhook burst. On this VM even a trivial server pays more CPU per
 *   request when requests arrive spread out than back to back, so ours' open-loop figures only
 *   mean something next to what the same load costs a node:http server that does the least.
 * - webhooks: W bookings made through the API (client books, provider accepts, client opens the
 *   Paystack checkout), each charge marked paid at the fake, then a burst: W signed
 *   `charge.success` deliveries plus W/10 byte-identical redeliveries, C at a time, to
 *   POST /api/webhooks/paystack. Processed per second (first send to all settled), latency
 *   p50/p99, non-200s; then every payment must be in ESCROW and the ledger balanced.
 *
 * This file starts our server and runs the steps in that order: api-polling.ts (the closed loop,
 * then the open loop) against ours, api-baseline.ts, then api-webhooks.ts; api-report.ts prints
 * the table.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { FakePaystack } from '../fakes/fake-paystack';
import { isAborting, onCleanup, startServerProcess, ROOT, type ServerProc, type PrepareDatabase } from './procs';
import type { Options } from './options';
import { caller } from './api-calls';
import { measurePolling } from './api-polling';
import { measureBaseline } from './api-baseline';
import { measureWebhooks, PAYSTACK_KEY } from './api-webhooks';
import { freePort } from '../test/support/free-port';

export { apiReport } from './api-report';

/** The phase's flags, as options.ts reads and describes them. */
export type ApiOptions = Pick<
  Options,
  'pollUsers' | 'pollConcurrency' | 'pollSeconds' | 'pollRate' | 'pollRateSeconds' | 'webhooks' | 'webhookConcurrency' | 'apiBaseline' | 'embedded' | 'profile'
>;

/** What every step of the phase is given: token signing, the admin's token, the run's tag in user ids, and the progress line. */
export interface ApiContext {
  sign: (claims: Record<string, unknown>) => string;
  admin: string;
  run: string;
  say: (msg: string) => void;
}

export interface ApiDeps {
  jwtSecret: string;
  progress: (msg: string) => void;
  prepareDatabase: PrepareDatabase;
}

/** What a polling step measured; for the open loop, `requests` and `perSec` count answers from the first scheduled send to the last answer. */
export interface PollFigures {
  requests: number;
  perSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  errors: Record<string, number>;
  /** Polls that returned at least one event. */
  withEvents: number;
  announcements: number;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  serverCpuPerRequestUs: number | null;
}

export type ClosedLoopFigures = PollFigures & {
  users: number;
  concurrency: number;
  seconds: number;
};

/** Latencies are from each request's scheduled send time. */
export type OpenLoopFigures = PollFigures & {
  offeredPerSec: number;
  seconds: number;
  /** Up to this many kept-alive sockets; a request waiting for one still counts from its scheduled time. */
  sockets: number;
  scheduled: number;
  /** Where the time from scheduled send to answer went (each a p99 of its own, so they do not add up). */
  breakdown: {
    /** Scheduled time to the driver issuing the request (timer granularity, a busy driver, every user already waiting). */
    lateP99Ms: number | null;
    /** Issued to getting a socket from the pool (all sockets busy). */
    socketWaitP99Ms: number | null;
    /** Socket to the whole answer read: the server, the network stack, and the driver reading it. */
    serviceP50Ms: number | null;
    serviceP99Ms: number | null;
    /** The driver's own event loop delay during the step (perf_hooks, sampled every 1 ms): how much of the tail is the driver itself. */
    driverLoopDelayP99Ms: number | null;
    serverLoopDelayP99Ms: number | null;
    serverLoopDelayMaxMs: number | null;
    /** The driver's CPU (user + system) per answered request: on 2 cores it competes with the server and PostgreSQL. */
    driverCpuPerRequestUs: number | null;
    maxInFlight: number;
  };
};

export interface PollingSteps {
  polling: ClosedLoopFigures;
  /** Null when --poll-rate 0. */
  pollingOpenLoop: OpenLoopFigures | null;
}

export interface ApiResult extends PollingSteps {
  database: string;
  startupMs: number;
  /**
   * The same polling steps against bench/baseline-server.ts, in the same run (null with
   * --api-baseline false): what answering these polls costs at the least on this machine.
   */
  baseline: (PollingSteps & { startupMs: number; server: { startupWarnings: string[]; warningCount: number; warnings: string[] } }) | null;
  webhooks: {
    payments: number;
    setupSeconds: number;
    setupErrors: Record<string, number>;
    deliveries: number;
    duplicatesSent: number;
    concurrency: number;
    seconds: number;
    perSec: number;
    p50Ms: number | null;
    p99Ms: number | null;
    errors: Record<string, number>;
    settled: number;
    notSettled: number;
    ledgerBalanced: boolean | null;
    /** Deliveries answered while every Paystack call took `paystackMs`: answer latency. */
    slowPaystack: { deliveries: number; paystackMs: number; p50Ms: number | null; p99Ms: number | null };
    serverCpuPerDeliveryUs: number | null;
  } | null;
  server: { startupWarnings: string[]; warningCount: number; warnings: string[] };
}

export async function runApi(o: ApiOptions, deps: ApiDeps): Promise<ApiResult> {
  const servers: ServerProc[] = [];
  try {
    return await measureApi(o, deps, (s) => servers.push(s));
  } catch (err) {
    const why = servers.map((s) => s.exitReport()).find((x) => x !== null);
    if (why && !isAborting()) throw new Error(why, { cause: err });
    throw err;
  }
}

async function measureApi(o: ApiOptions, deps: ApiDeps, onServer: (s: ServerProc) => void): Promise<ApiResult> {
  const say = (msg: string) => deps.progress(`[api] ${msg}`);
  const key = crypto.createSecretKey(Buffer.from(deps.jwtSecret, 'utf8'));
  const sign = (claims: Record<string, unknown>) => jwt.sign(claims, key, { algorithm: 'HS256', expiresIn: 3600 });
  const paystack = new FakePaystack({ secretKey: PAYSTACK_KEY, webhookTimeoutMs: 30_000 });
  const { url: paystackUrl } = await paystack.start();
  const stopPaystack = onCleanup('stop fake paystack', () => paystack.stop());
  const db = await deps.prepareDatabase(o.embedded);
  const port = await freePort();
  say(`starting server on :${port} (${db.kind}), fake Paystack at ${paystackUrl}`);
  const t0 = Date.now();
  const server = await startServerProcess({
    name: 'server (src/server.ts, api)',
    entry: 'src/server.ts',
    env: {
      PORT: String(port),
      JWT_SECRET: deps.jwtSecret,
      LOG_LEVEL: 'warn',
      POLL_RATE_LIMIT_PER_MIN: '1000000',
      WRITE_RATE_LIMIT_PER_MIN: '0',
      MAX_PENDING_BOOKINGS_PER_PAIR: '10000',
      PAYSTACK_BASE_URL: paystackUrl,
      PAYSTACK_SECRET_KEY: PAYSTACK_KEY,
      ...db.env,
    },
    port,
    readyPath: '/readyz',
    nodeArgs: o.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(ROOT, 'bench', 'results', 'profiles', 'api')}`] : [],
  });
  onServer(server);
  const startupMs = Date.now() - t0;
  const run = crypto.randomBytes(3).toString('hex');
  const admin = sign({ sub: `api-${run}-admin`, role: 'admin' });
  const pool = new http.Agent({ keepAlive: true, maxSockets: Math.max(o.webhookConcurrency, 50) });
  const call = caller(server, pool);

  try {
    // --- polling: ours, then the baseline's while ours idles (why this order: the top of the file)
    const c: ApiContext = { sign, admin, run, say };
    const ours = await measurePolling(o, { ...c, target: server });
    const baseline = o.apiBaseline ? await measureBaseline(o, deps, c, onServer) : null;
    const webhooks = o.webhooks > 0 ? await measureWebhooks({ ...c, o, url: server.url, paystack, pool, call }) : null;
    return {
      database: db.kind,
      startupMs,
      ...ours,
      baseline,
      webhooks,
      server: { startupWarnings: server.startupWarnings, warningCount: server.warningCount, warnings: server.warnings },
    };
  } finally {
    pool.destroy();
    await server.stop();
    await db.drop();
    await stopPaystack();
  }
}
