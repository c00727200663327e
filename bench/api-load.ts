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
 */
import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import jwt from 'jsonwebtoken';
import { FakePaystack, signPaystackBody } from '../fakes/fake-paystack';
import { nowMs } from './protocol';
import { assertNotAborting, isAborting, onCleanup, startServerProcess, ROOT, type ServerProc, type PrepareDatabase } from './procs';
import { readMetrics, requestJson } from './http';
import { ratio, summarize } from './report';
import type { Options } from './options';
import { freePort } from '../test/support/free-port';
import { sleep } from '../test/support/sleep';

/** The slow-Paystack step of the webhook phase: payments, and how long each Paystack call takes. */
const SLOW_PAYSTACK_PAYMENTS = 100;
const SLOW_PAYSTACK_MS = 2_000;

/** The phase's flags, as options.ts reads and describes them. */
export type ApiOptions = Pick<
  Options,
  'pollUsers' | 'pollConcurrency' | 'pollSeconds' | 'pollRate' | 'pollRateSeconds' | 'webhooks' | 'webhookConcurrency' | 'apiBaseline' | 'embedded' | 'profile'
>;

export interface ApiDeps {
  jwtSecret: string;
  progress: (msg: string) => void;
  prepareDatabase: PrepareDatabase;
}

/** What a polling step measured; for the open loop, `requests` and `perSec` count answers from the first scheduled send to the last answer. */
interface PollFigures {
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

type ClosedLoopFigures = PollFigures & {
  users: number;
  concurrency: number;
  seconds: number;
};

/** Latencies are from each request's scheduled send time. */
type OpenLoopFigures = PollFigures & {
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

interface PollingSteps {
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

const PAYSTACK_KEY = 'sk_test_bench_fake_paystack_key_0123456789';
/**
 * Sockets for the open-loop step. At 2,000/s and a few ms per answer only a handful are busy at
 * once; 64 leaves room for a stall without making requests queue for a connection, and stays
 * small enough not to be a connection-count benchmark.
 */
const OPEN_LOOP_SOCKETS = 64;
const bump = (o: Record<string, number>, k: string) => (o[k] = (o[k] ?? 0) + 1);
const secondsToMs = (s: number | undefined): number | null => (s === undefined ? null : s * 1000);

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
    const ours = await measurePolling(o, { target: server, sign, admin, run, say });
    let baseline: ApiResult['baseline'] = null;
    if (o.apiBaseline) {
      const basePort = await freePort();
      say(`starting the baseline server (bench/baseline-server.ts) on :${basePort}; ours idles meanwhile`);
      const tb = Date.now();
      const base = await startServerProcess({
        name: 'baseline server (api)',
        entry: 'bench/baseline-server.ts',
        env: { PORT: String(basePort), JWT_SECRET: deps.jwtSecret, LOG_LEVEL: 'warn' },
        port: basePort,
        readyPath: '/healthz',
        nodeArgs: o.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(ROOT, 'bench', 'results', 'profiles', 'api-baseline')}`] : [],
      });
      onServer(base);
      const baseStartupMs = Date.now() - tb;
      try {
        const steps = await measurePolling(o, { target: base, sign, admin, run, say: (msg) => say(`baseline ${msg}`) });
        baseline = {
          startupMs: baseStartupMs,
          ...steps,
          server: { startupWarnings: base.startupWarnings, warningCount: base.warningCount, warnings: base.warnings },
        };
      } finally {
        await base.stop();
      }
    }

    // --- webhooks --------------------------------------------------------------------------------
    let webhooks: ApiResult['webhooks'] = null;
    if (o.webhooks > 0) {
      say(`webhooks: making ${o.webhooks} bookings with a pending Paystack checkout through the API`);
      const ts = nowMs();
      const setupErrors: Record<string, number> = {};
      const providers = Array.from({ length: 10 }, (_, i) => ({ id: `api-${run}-prov-${i}`, token: sign({ sub: `api-${run}-prov-${i}`, role: 'provider' }) }));
      for (const p of providers) {
        await call('GET', '/api/me', p.token);
        const r = await putJson(
          `${server.url}/api/me/payout-account`,
          p.token,
          { accountName: 'Bench Provider', accountNumber: '1234567890', bankCode: '470010' },
          pool,
        );
        if (r.status !== 200) bump(setupErrors, `payout account ${r.status}: ${r.body.slice(0, 120)}`);
      }
      const scheduledFor = new Date(Date.now() + 86_400_000).toISOString();
      // Beyond the burst's payments, SLOW_PAYSTACK_PAYMENTS more for the slow-Paystack step.
      const refs: Array<string | null> = new Array(o.webhooks + SLOW_PAYSTACK_PAYMENTS).fill(null);
      await inBatches(
        Array.from({ length: refs.length }, (_, i) => i),
        Math.min(25, o.webhookConcurrency),
        async (i) => {
          const client = sign({ sub: `api-${run}-cli-${i}`, role: 'client', email: `bench${i}@example.co.za` });
          const prov = providers[i % providers.length];
          const b = await call('POST', '/api/bookings', client, { providerId: prov.id, service: 'cleaning', scheduledFor, amount: 10_000 + i });
          if (b.status !== 201) return void bump(setupErrors, `book ${b.status}`);
          const id = parse(b.body).id;
          const a = await call('POST', `/api/bookings/${id}/accept`, prov.token);
          if (a.status !== 200) return void bump(setupErrors, `accept ${a.status}`);
          const pay = await call('POST', `/api/bookings/${id}/payment`, client);
          if (pay.status !== 200) return void bump(setupErrors, `payment ${pay.status}: ${pay.body.slice(0, 120)}`);
          refs[i] = parse(pay.body).reference;
        },
      );
      const setupSeconds = (nowMs() - ts) / 1000;
      const ready = refs.slice(0, o.webhooks).filter((r): r is string => r !== null);
      const slowReady = refs.slice(o.webhooks).filter((r): r is string => r !== null);
      const chargeBody = (reference: string, id: number) => {
        const tx = paystack.markPaid(reference);
        return JSON.stringify({ event: 'charge.success', data: { id, reference, amount: tx.amount, currency: tx.currency, status: 'success' } });
      };
      const bodies = ready.map((reference, i) => chargeBody(reference, 900_000 + i));
      // Paystack retries: every tenth delivery again, byte for byte, later in the burst.
      const deliveries = [...bodies, ...bodies.filter((_, i) => i % 10 === 0)];
      say(
        `webhooks: ${bodies.length} payments ready in ${setupSeconds.toFixed(1)} s; burst of ${deliveries.length} deliveries, ${o.webhookConcurrency} at a time`,
      );
      const wlat: number[] = [];
      const werrors: Record<string, number> = {};
      const mw0 = await readMetrics(server.url);
      const tw = nowMs();
      await inBatches(deliveries, o.webhookConcurrency, async (body) => {
        const t = nowMs();
        const r = await postRaw(`${server.url}/api/webhooks/paystack`, body, signPaystackBody(body, PAYSTACK_KEY), pool).catch((e: Error) => ({
          status: 0,
          body: e.message,
        }));
        wlat.push(nowMs() - t);
        if (r.status !== 200) bump(werrors, `HTTP ${r.status}`);
      });
      // Answered once recorded: the burst counts as processed when the server has settled it all.
      for (const deadline = nowMs() + 120_000; nowMs() < deadline; await new Promise((r) => setTimeout(r, 10))) {
        const st = parse((await call('GET', '/api/status', admin)).body);
        if (st && st.webhookSettling.inFlight === 0 && st.webhookSettling.queued === 0) break;
      }
      const twEnd = nowMs();
      const mw1 = await readMetrics(server.url);
      // Every payment: ESCROW, read back through the admin API.
      let settled = 0;
      let cursor: string | null = null;
      do {
        const r = await call('GET', `/api/payments?status=ESCROW&limit=100${cursor ? `&cursor=${cursor}` : ''}`, admin);
        const b = parse(r.body);
        if (r.status !== 200 || !b) {
          bump(werrors, `list ${r.status}`);
          break;
        }
        settled += b.payments.filter((p: { reference: string }) => ready.includes(p.reference)).length;
        cursor = b.nextCursor;
      } while (cursor);
      // Paystack slow: every call it answers takes SLOW_PAYSTACK_MS. The answer must not wait for it.
      say(`webhooks: ${slowReady.length} more with every Paystack call ${SLOW_PAYSTACK_MS} ms slow`);
      const slowBodies = slowReady.map((reference, i) => chargeBody(reference, 950_000 + i));
      const slowLat: number[] = [];
      paystack.latencyMs = SLOW_PAYSTACK_MS;
      try {
        await inBatches(slowBodies, 10, async (body) => {
          const t = nowMs();
          const r = await postRaw(`${server.url}/api/webhooks/paystack`, body, signPaystackBody(body, PAYSTACK_KEY), pool).catch((e: Error) => ({
            status: 0,
            body: e.message,
          }));
          slowLat.push(nowMs() - t);
          if (r.status !== 200) bump(werrors, `slow HTTP ${r.status}`);
        });
        for (const deadline = nowMs() + 120_000; nowMs() < deadline; await new Promise((r) => setTimeout(r, 50))) {
          const st = parse((await call('GET', '/api/status', admin)).body);
          if (st && st.webhookSettling.inFlight === 0 && st.webhookSettling.queued === 0) break;
        }
      } finally {
        paystack.latencyMs = 0;
      }
      const slow = summarize(slowLat);
      const ledger = await call('GET', '/api/ledger/summary', admin);
      const wl = summarize(wlat);
      webhooks = {
        payments: ready.length,
        setupSeconds,
        setupErrors,
        deliveries: deliveries.length,
        duplicatesSent: deliveries.length - bodies.length,
        concurrency: o.webhookConcurrency,
        seconds: (twEnd - tw) / 1000,
        perSec: deliveries.length / ((twEnd - tw) / 1000),
        p50Ms: wl.p50,
        p99Ms: wl.p99,
        errors: werrors,
        settled,
        notSettled: ready.length - settled,
        ledgerBalanced: ledger.status === 200 ? Boolean(parse(ledger.body)?.balanced) : null,
        serverCpuPerDeliveryUs: ((mw1.cpuSeconds - mw0.cpuSeconds) * 1e6) / deliveries.length,
        slowPaystack: { deliveries: slowBodies.length, paystackMs: SLOW_PAYSTACK_MS, p50Ms: slow.p50, p99Ms: slow.p99 },
      };
      say(
        `webhooks: ${webhooks.perSec.toFixed(0)} deliveries/s, p50 ${webhooks.p50Ms?.toFixed(1)} p99 ${webhooks.p99Ms?.toFixed(1)} ms; ` +
          `${settled}/${ready.length} in ESCROW; ledger balanced ${webhooks.ledgerBalanced}; errors ${JSON.stringify(werrors)}`,
      );
    }
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

type Target = Pick<ServerProc, 'url' | 'exitReport'>;
type Call = (method: 'GET' | 'POST', p: string, token: string, body?: unknown) => Promise<{ status: number; body: string }>;

/** Requests to one server: a failed one is an answer with status 0, unless the server is gone. */
function caller(target: Target, pool: http.Agent): Call {
  return async (method, p, token, body) => {
    assertNotAborting();
    try {
      return await requestJson(method, `${target.url}${p}`, token, body, pool);
    } catch (err) {
      const why = target.exitReport();
      if (why) throw new Error(why, { cause: err });
      return { status: 0, body: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
    }
  };
}

function parse(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

interface PollContext {
  /** Ours or the baseline: the steps only need its URL and whether it is still running. */
  target: Target;
  sign: (claims: Record<string, unknown>) => string;
  /** An admin's token, for the announcer. */
  admin: string;
  /** This run's tag in user ids. */
  run: string;
  say: (msg: string) => void;
}

/** The closed-loop step, then the open-loop one (unless --poll-rate 0), against one server. */
async function measurePolling(o: ApiOptions, c: PollContext): Promise<PollingSteps> {
  const { target, say } = c;
  // Its own pool, so that both servers' steps start alike: C pollers and the announcer.
  const pool = new http.Agent({ keepAlive: true, maxSockets: o.pollConcurrency + 1 });
  const call = caller(target, pool);
  try {
    say(`polling: ${o.pollUsers} users, ${o.pollConcurrency} connections, ${o.pollSeconds} s, an announcement to all every 100 ms`);
    const pollers = Array.from({ length: o.pollUsers }, (_, i) => ({
      token: c.sign({ sub: `api-${c.run}-poll-${i}`, role: i % 2 ? 'provider' : 'client' }),
      after: '',
      startedAfter: '',
      got: [] as string[],
    }));
    type Poller = (typeof pollers)[number];
    // Each user's first poll: "from now" (no after), as a client starting up does. Not timed.
    const firstErrors: Record<string, number> = {};
    await inBatches(pollers, o.pollConcurrency, async (p) => {
      const r = await call('GET', '/api/events', p.token);
      const b = r.status === 200 ? parse(r.body) : undefined;
      if (!b) return void bump(firstErrors, `HTTP ${r.status}`);
      p.after = p.startedAfter = String(b.lastEventId);
    });
    // An admin announces to all every 100 ms while a step runs; both steps use it.
    const startAnnouncer = () => {
      const announced: string[] = [];
      let announcing = true;
      const done = (async () => {
        let n = 0;
        while (announcing) {
          const r = await call('POST', '/api/broadcasts', c.admin, { title: 'poll', body: `poll ${n++}`, all: true });
          if (r.status === 202) announced.push(String(parse(r.body).eventId));
          await sleep(100);
        }
      })();
      return {
        announced,
        stop: async () => {
          announcing = false;
          await done;
        },
      };
    };
    type Tally = { withEvents: number; duplicates: number; outOfOrder: number };
    const onPage = (p: Poller, b: { events: Array<{ id: string; type: string }>; lastEventId: string }, t: Tally) => {
      for (const e of b.events) {
        if (e.type !== 'announcement') continue;
        const last = p.got[p.got.length - 1];
        if (last !== undefined && BigInt(e.id) <= BigInt(last)) {
          if (p.got.includes(e.id)) t.duplicates++;
          else t.outOfOrder++;
          continue;
        }
        p.got.push(e.id);
      }
      if (b.events.length) t.withEvents++;
      p.after = String(b.lastEventId);
    };
    // Everyone catches up once more (pages until hasMore is false), then must hold every
    // announcement made after their starting cursor.
    const catchUpAndCountLost = async (announced: string[], t: Tally, errors: Record<string, number>) => {
      await inBatches(pollers, o.pollConcurrency, async (p) => {
        for (let i = 0; i < 20; i++) {
          const r = await call('GET', `/api/events?after=${p.after}&limit=500`, p.token);
          const b = r.status === 200 ? parse(r.body) : undefined;
          if (!b) return void bump(errors, `final HTTP ${r.status}`);
          onPage(p, b, t);
          if (!b.hasMore) return;
        }
      });
      let lost = 0;
      for (const p of pollers) {
        const have = new Set(p.got);
        for (const id of announced) if (BigInt(id) > BigInt(p.startedAfter || '0') && !have.has(id)) lost++;
      }
      return lost;
    };

    // Closed loop: C connections, each sends its next poll when the previous one is answered. Its
    // requests/s is the saturation throughput; its latency is forced to C / throughput.
    const closedAnnouncer = startAnnouncer();
    const announced = closedAnnouncer.announced;
    const latencies: number[] = [];
    const pollErrors: Record<string, number> = { ...firstErrors };
    const closed: Tally = { withEvents: 0, duplicates: 0, outOfOrder: 0 };
    const m0 = await readMetrics(target.url);
    const tPoll = nowMs();
    const end = tPoll + o.pollSeconds * 1000;
    let nextUser = 0;
    await Promise.all(
      Array.from({ length: o.pollConcurrency }, async () => {
        while (nowMs() < end) {
          const p = pollers[nextUser++ % pollers.length];
          const t = nowMs();
          const r = await call('GET', `/api/events?after=${p.after}`, p.token);
          latencies.push(nowMs() - t);
          const b = r.status === 200 ? parse(r.body) : undefined;
          if (!b) {
            bump(pollErrors, `HTTP ${r.status}`);
            continue;
          }
          onPage(p, b, closed);
        }
      }),
    );
    const tPollEnd = nowMs();
    const m1 = await readMetrics(target.url);
    await closedAnnouncer.stop();
    const lost = await catchUpAndCountLost(announced, closed, pollErrors);
    const lat = summarize(latencies);
    const polling: ApiResult['polling'] = {
      users: o.pollUsers,
      concurrency: o.pollConcurrency,
      seconds: (tPollEnd - tPoll) / 1000,
      requests: latencies.length,
      perSec: latencies.length / ((tPollEnd - tPoll) / 1000),
      p50Ms: lat.p50,
      p99Ms: lat.p99,
      maxMs: lat.max,
      errors: pollErrors,
      withEvents: closed.withEvents,
      announcements: announced.length,
      lost,
      duplicates: closed.duplicates,
      outOfOrder: closed.outOfOrder,
      serverCpuPerRequestUs: latencies.length ? ((m1.cpuSeconds - m0.cpuSeconds) * 1e6) / latencies.length : null,
    };
    say(
      `polling: ${polling.perSec.toFixed(0)} req/s, p50 ${polling.p50Ms?.toFixed(2)} p99 ${polling.p99Ms?.toFixed(2)} ms, ` +
        `${announced.length} announcements, lost ${lost}, errors ${JSON.stringify(pollErrors)}`,
    );

    // Open loop: requests are due at fixed times whatever the server does, and each is timed from
    // when it was due, so a server that stalls is charged for every request it delayed.
    let pollingOpenLoop: ApiResult['pollingOpenLoop'] = null;
    if (o.pollRate > 0) {
      say(`polling at ${o.pollRate}/s offered (open loop, up to ${OPEN_LOOP_SOCKETS} sockets), ${o.pollRateSeconds} s, an announcement to all every 100 ms`);
      // FIFO hands out the least recently used free socket, so all of them stay in use and none
      // sits idle long enough for the server's keep-alive timeout (5 s) to close it mid-step.
      const openPool = new http.Agent({ keepAlive: true, maxSockets: OPEN_LOOP_SOCKETS, scheduling: 'fifo' });
      try {
        const errors: Record<string, number> = {};
        const open: Tally = { withEvents: 0, duplicates: 0, outOfOrder: 0 };
        const poll = (p: Poller) => requestJson('GET', `${target.url}/api/events?after=${p.after}`, p.token, undefined, openPool);
        // Open every socket before the clock starts, so the step does not time TCP connects.
        // The announcer is stopped and everyone has caught up, so these pages are empty.
        await Promise.all(
          Array.from({ length: Math.min(OPEN_LOOP_SOCKETS, pollers.length) }, async (_, i) => {
            const r = await poll(pollers[i]).catch((e: Error) => ({ status: 0, body: e.message }));
            const b = r.status === 200 ? parse(r.body) : undefined;
            if (b) onPage(pollers[i], b, { withEvents: 0, duplicates: 0, outOfOrder: 0 });
          }),
        );
        for (const p of pollers) {
          p.startedAfter = p.after;
          p.got = [];
        }
        const openAnnouncer = startAnnouncer();
        const fromScheduled: number[] = [];
        const late: number[] = [];
        const socketWait: number[] = [];
        const service: number[] = [];
        const interval = 1000 / o.pollRate;
        let total = Math.round(o.pollRate * o.pollRateSeconds);
        // Due times not yet sent because every user already had a poll in flight: a real client
        // never polls twice at once, and two polls with one cursor would count as duplicates.
        // It only fills if the server stalls for about users / rate (250 ms at 500 users, 2000/s).
        const backlog: number[] = [];
        const busy = new Set<Poller>();
        let scheduled = 0;
        let inFlight = 0;
        let maxInFlight = 0;
        let next = 0;
        const loop = monitorEventLoopDelay({ resolution: 1 });
        const mo0 = await readMetrics(target.url);
        loop.enable();
        const cpu0 = process.cpuUsage();
        const tStart = nowMs();
        let tLast = tStart;
        await new Promise<void>((resolve) => {
          let scheduling = true;
          const finishIfDone = () => {
            if (!scheduling && backlog.length === 0 && inFlight === 0) resolve();
          };
          const freeUser = (): Poller | undefined => {
            for (let k = 0; k < pollers.length; k++) {
              const p = pollers[next++ % pollers.length];
              if (!busy.has(p)) return p;
            }
            return undefined;
          };
          const send = () => {
            while (backlog.length) {
              const p = freeUser();
              if (!p) return;
              const due = backlog.shift()!;
              busy.add(p);
              inFlight++;
              if (inFlight > maxInFlight) maxInFlight = inFlight;
              const issued = nowMs();
              late.push(issued - due);
              void poll(p)
                .catch((e: Error) => ({ status: 0, body: (e as NodeJS.ErrnoException).code ?? e.message, socketAt: null }))
                .then((r) => {
                  const t = nowMs();
                  tLast = t;
                  fromScheduled.push(t - due);
                  if (r.socketAt !== null) {
                    socketWait.push(r.socketAt - issued);
                    service.push(t - r.socketAt);
                  }
                  const b = r.status === 200 ? parse(r.body) : undefined;
                  if (b) onPage(p, b, open);
                  else bump(errors, `HTTP ${r.status}`);
                  busy.delete(p);
                  inFlight--;
                  send();
                  finishIfDone();
                });
            }
          };
          // A timer tick every ~1 ms sends everything that fell due since the last one; the due
          // count comes from the elapsed time, so a late timer or a busy driver sends a burst
          // (each still timed from its own due time) instead of lowering the offered rate.
          // setTimeout rather than setImmediate: a spinning driver would take a core from the
          // server on this 2-core machine.
          const tick = () => {
            if (isAborting()) total = scheduled;
            const due = Math.min(total, Math.floor((nowMs() - tStart) / interval) + 1);
            while (scheduled < due) backlog.push(tStart + scheduled++ * interval);
            send();
            if (scheduled < total) setTimeout(tick, 1);
            else {
              scheduling = false;
              finishIfDone();
            }
          };
          tick();
        });
        loop.disable();
        const cpu = process.cpuUsage(cpu0);
        const mo1 = await readMetrics(target.url);
        await openAnnouncer.stop();
        assertNotAborting();
        const why = target.exitReport();
        if (why) throw new Error(why);
        const openLost = await catchUpAndCountLost(openAnnouncer.announced, open, errors);
        const l = summarize(fromScheduled);
        const sv = summarize(service);
        const seconds = (tLast - tStart) / 1000;
        pollingOpenLoop = {
          offeredPerSec: o.pollRate,
          seconds,
          sockets: OPEN_LOOP_SOCKETS,
          scheduled,
          requests: fromScheduled.length,
          perSec: fromScheduled.length / seconds,
          p50Ms: l.p50,
          p99Ms: l.p99,
          maxMs: l.max,
          errors,
          withEvents: open.withEvents,
          announcements: openAnnouncer.announced.length,
          lost: openLost,
          duplicates: open.duplicates,
          outOfOrder: open.outOfOrder,
          serverCpuPerRequestUs: fromScheduled.length ? ((mo1.cpuSeconds - mo0.cpuSeconds) * 1e6) / fromScheduled.length : null,
          breakdown: {
            lateP99Ms: summarize(late).p99,
            socketWaitP99Ms: summarize(socketWait).p99,
            serviceP50Ms: sv.p50,
            serviceP99Ms: sv.p99,
            driverLoopDelayP99Ms: loop.count ? loop.percentile(99) / 1e6 : null,
            // prom-client resets its event-loop histogram at every scrape, so mo1 covers this step only.
            serverLoopDelayP99Ms: secondsToMs(mo1.all.nodejs_eventloop_lag_p99_seconds),
            serverLoopDelayMaxMs: secondsToMs(mo1.all.nodejs_eventloop_lag_max_seconds),
            driverCpuPerRequestUs: fromScheduled.length ? (cpu.user + cpu.system) / fromScheduled.length : null,
            maxInFlight,
          },
        };
        const x = pollingOpenLoop;
        say(
          `polling at ${x.offeredPerSec}/s offered: ${x.perSec.toFixed(0)} answered/s, from scheduled time p50 ${x.p50Ms?.toFixed(2)} ` +
            `p99 ${x.p99Ms?.toFixed(2)} max ${x.maxMs?.toFixed(1)} ms, ${x.announcements} announcements, lost ${x.lost}, errors ${JSON.stringify(errors)}`,
        );
      } finally {
        openPool.destroy();
      }
    }
    return { polling, pollingOpenLoop };
  } finally {
    pool.destroy();
  }
}

async function inBatches<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

function rawRequest(
  method: string,
  url: string,
  headers: http.OutgoingHttpHeaders,
  body: string,
  agent: http.Agent,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, timeout: 30_000, headers: { ...headers, 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

const putJson = (url: string, token: string, body: unknown, agent: http.Agent) =>
  rawRequest('PUT', url, { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, JSON.stringify(body), agent);

const postRaw = (url: string, body: string, signature: string, agent: http.Agent) =>
  rawRequest('POST', url, { 'Content-Type': 'application/json', 'x-paystack-signature': signature }, body, agent);

export function apiReport(r: ApiResult): string[] {
  const f = (v: number | null | undefined, d = 1) => (v === null || v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(d));
  const p = r.polling;
  const q = r.pollingOpenLoop;
  const base = r.baseline;
  const nonOk = (e: Record<string, number>) => Object.values(e).reduce((a, v) => a + v, 0);
  const missed = (x: PollFigures) => x.lost + x.duplicates + x.outOfOrder;
  // Ours, the baseline and ours / baseline for a polling figure. Counts whose target is zero get
  // no ratio: 0 / 0 or n / 0 says nothing the two figures do not.
  const both = (get: (s: PollingSteps) => number | null | undefined, d: number, count = false): [string, string, string] => {
    const mine = get(r);
    const theirs = base ? get(base) : undefined;
    return [f(mine, d), base ? f(theirs, d) : '', base && !count ? ratio(mine, theirs) : ''];
  };
  // Null for neither or both: the two sides run with the same --poll-rate.
  const openOf = (s: PollingSteps) => s.pollingOpenLoop!;
  const made = (mine: PollFigures, theirs: PollFigures | null | undefined) =>
    theirs ? `${mine.announcements} / ${theirs.announcements}` : `${mine.announcements}`;
  type ApiRow = [string, string, string, string, string, string];
  const row = (metric: string, unit: string, values: [string, string, string], target: string): ApiRow => [metric, unit, ...values, target];
  // The issue's target is "at least 2,000 req/s with p99 at most 20 ms": the throughput half is
  // checked at saturation (closed loop), the latency half at 2,000/s offered (open loop). A
  // closed loop's latency is connections / throughput, so its p99 carries no target.
  const sat = `polling (saturation, ${p.concurrency} connections, closed loop)`;
  const rows: ApiRow[] = [
    row(
      `${sat}: requests/s (GET /api/events?after=)`,
      'req/s',
      both((s) => s.polling.perSec, 0),
      '>= 2000',
    ),
    row(
      `${sat}: latency p50`,
      'ms',
      both((s) => s.polling.p50Ms, 2),
      '',
    ),
    row(
      `${sat}: latency p99`,
      'ms',
      both((s) => s.polling.p99Ms, 2),
      '',
    ),
    row(
      `${sat}: server CPU per request`,
      'us',
      both((s) => s.polling.serverCpuPerRequestUs, 0),
      '',
    ),
    row(
      `${sat}: announcements missed by a poller (${made(p, base?.polling)} made, ${p.users} users)`,
      'events',
      both((s) => missed(s.polling), 0, true),
      '0',
    ),
    row(
      `${sat}: non-200 answers`,
      'requests',
      both((s) => nonOk(s.polling.errors), 0, true),
      '0',
    ),
  ];
  if (q) {
    const ol = `polling (at ${q.offeredPerSec}/s offered, open loop, from scheduled time)`;
    rows.push(
      row(
        `${ol}: answered requests/s`,
        'req/s',
        both((s) => openOf(s).perSec, 0),
        '',
      ),
      row(
        `${ol}: latency p50`,
        'ms',
        both((s) => openOf(s).p50Ms, 2),
        '',
      ),
      // The target is stated at 2,000/s; at a lower offered rate meeting it proves nothing.
      row(
        `${ol}: latency p99`,
        'ms',
        both((s) => openOf(s).p99Ms, 2),
        q.offeredPerSec >= 2000 ? '<= 20' : '',
      ),
      row(
        `${ol}: latency max`,
        'ms',
        both((s) => openOf(s).maxMs, 1),
        '',
      ),
      row(
        `${ol}: server CPU per request`,
        'us',
        both((s) => openOf(s).serverCpuPerRequestUs, 0),
        '',
      ),
      row(
        `${ol}: announcements missed by a poller (${made(q, base?.pollingOpenLoop)} made)`,
        'events',
        both((s) => missed(openOf(s)), 0, true),
        '0',
      ),
      row(
        `${ol}: non-200 answers`,
        'requests',
        both((s) => nonOk(openOf(s).errors), 0, true),
        '0',
      ),
    );
  }
  const w = r.webhooks;
  if (w) {
    // Our routes only: the baseline has no bookings, payments or ledger.
    const ours = (v: string): [string, string, string] => [v, '', ''];
    rows.push(
      row(`webhooks: signed deliveries processed per second (${w.deliveries}, ${w.duplicatesSent} redelivered)`, 'per s', ours(f(w.perSec, 0)), '>= 500'),
      row('webhooks: delivery latency p50', 'ms', ours(f(w.p50Ms, 1)), ''),
      row('webhooks: delivery latency p99', 'ms', ours(f(w.p99Ms, 1)), ''),
      row('webhooks: server CPU per delivery', 'us', ours(f(w.serverCpuPerDeliveryUs, 0)), ''),
      row(`webhooks: payments not in ESCROW afterwards (of ${w.payments})`, 'payments', ours(String(w.notSettled)), '0'),
      row('webhooks: non-200 answers', 'requests', ours(String(nonOk(w.errors))), '0'),
      row('webhooks: ledger balanced afterwards', '', ours(String(w.ledgerBalanced)), 'true'),
      row(
        `webhooks, every Paystack call ${w.slowPaystack.paystackMs} ms slow: answer p50 (${w.slowPaystack.deliveries})`,
        'ms',
        ours(f(w.slowPaystack.p50Ms, 1)),
        '',
      ),
      row(`webhooks, every Paystack call ${w.slowPaystack.paystackMs} ms slow: answer p99`, 'ms', ours(f(w.slowPaystack.p99Ms, 1)), '<= 200'),
    );
  }
  const oursLabel = r.database.startsWith('pglite') ? 'ours (pglite)' : 'ours (postgres)';
  const header: ApiRow = ['metric', 'unit', oursLabel, 'baseline (raw node:http)', 'ours/baseline', 'target'];
  // Without the baseline, its two columns go.
  const keep = (c: string[]) => (base ? c : [...c.slice(0, 3), c[5]]);
  const table = [header, ...rows].map(keep);
  const numeric = new Set(base ? [2, 3, 4] : [2]);
  const widths = table[0].map((_, i) => Math.max(...table.map((x) => x[i].length)));
  const line = (c: string[]) => c.map((x, i) => (numeric.has(i) ? x.padStart(widths[i]) : x.padEnd(widths[i]))).join(' | ');
  const out = [
    '',
    `API load: own server and fresh database (${r.database}); polling ${p.users} users over ${p.concurrency} kept-alive connections for ${p.seconds.toFixed(1)} s ` +
      `with an announcement to all every 100 ms` +
      (q
        ? `; then ${q.scheduled} polls scheduled at ${q.offeredPerSec}/s over up to ${q.sockets} kept-alive sockets, each timed from its scheduled send time`
        : '') +
      (base ? '; the same polling steps against the baseline (bench/baseline-server.ts: raw node:http, the events in an array), right after ours' : '') +
      (w ? `; webhooks: ${w.payments} payments set up through the API in ${w.setupSeconds.toFixed(1)} s, then one burst, ${w.concurrency} at a time` : ''),
    '',
    line(table[0]),
    widths.map((x) => '-'.repeat(x)).join('-|-'),
    ...table.slice(1).map(line),
  ];
  const sides: Array<[string, PollingSteps]> = base
    ? [
        ['ours', r],
        ['baseline', base],
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
  if (w && Object.keys(w.setupErrors).length) out.push(`  webhook setup errors: ${JSON.stringify(w.setupErrors)}`);
  if (w && Object.keys(w.errors).length) out.push(`  webhook errors: ${JSON.stringify(w.errors)}`);
  for (const x of r.server.startupWarnings) out.push(`  api server at startup: ${x}`);
  if (r.server.warningCount) out.push(`  api server logged ${r.server.warningCount} warn/error lines, first: ${r.server.warnings[0]}`);
  for (const x of base?.server.startupWarnings ?? []) out.push(`  api baseline server at startup: ${x}`);
  if (base?.server.warningCount) out.push(`  api baseline server logged ${base.server.warningCount} warn/error lines, first: ${base.server.warnings[0]}`);
  out.push('');
  return out;
}
