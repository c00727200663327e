/**
 * One side of the dispatch phase, dispatcher off or on, in the order its steps run: its server on
 * a fresh database, the streams and everyone's push subscription, the untimed warm-up, the
 * sustained block with the counters read around it, the deliveries' figures (on), the backlog
 * (once), and the side's result.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { Client } from 'pg';
import { nowMs, type ConnectResult } from './protocol';
import { isAborting, startLoadClient, startServerProcess, ROOT, type LoadClientProc, type ServerProc } from './procs';
import { getText, readMetrics, requestJson, type MetricsSample } from './http';
import type { FakeCounts, FakeUrls } from './channel-fakes';
import { DispatchSession, lat, type SideUsers } from './dispatch-session';
import { runBacklog } from './dispatch-backlog';
import type { DispatchDeps, DispatchOptions, DispatchSide, Latency } from './dispatch';
import { freePort } from '../test/support/free-port';
import { sleep } from '../test/support/sleep';

/**
 * How long the commit counter needs to be whole. A backend publishes its counts when it goes idle,
 * but at most once a second; counts held back so are published by the idle backend's ten-second
 * timer (PostgreSQL's PGSTAT_MIN_INTERVAL and PGSTAT_IDLE_INTERVAL). A shorter wait lets a side's
 * warm-up commits land in its timed window and leaves its last ones out.
 */
const STATS_SETTLE_MS = 11_000;
/** The Twilio account the fake answers for and every side's server uses. */
export const TWILIO_SID = `AC${'be'.repeat(16)}`;
export const TWILIO_TOKEN = 'bench-twilio-auth-token-0123456789';

/** What every side of the phase shares: the options, the channels' fakes and the VAPID keys. */
export interface DispatchRig {
  o: DispatchOptions;
  deps: DispatchDeps;
  fakes: LoadClientProc;
  urls: FakeUrls;
  vapid: { publicKey: string; privateKey: string };
}

/** The sustained block's counters, read around it and after everything settled. */
interface Sustained {
  accepted: number;
  toAway: number;
  t0: number;
  t1: number;
  lagAtEnd: number | null;
  settledAtPublishEnd: number;
  postRtt: Latency;
  receivedAll: boolean;
  receive: Latency;
  /** When every delivery settled (nowMs, dispatcher on), or null. */
  done: number | null;
  m0: MetricsSample;
  m1: MetricsSample;
  c0: number | null;
  c1: number | null;
}

export async function runSide(rig: DispatchRig, on: boolean, withBacklog: boolean, round: number): Promise<DispatchSide> {
  const { o, deps } = rig;
  const tag = `[dispatch ${on ? 'on ' : 'off'}]`;
  const scale = o.outageSeconds > 0 ? 600 / o.outageSeconds : 1;
  const retryBaseMs = Math.max(10, Math.round(30_000 / scale));
  const db = await deps.prepareDatabase(o.embedded);
  const server = await startSideServer(rig, on, db.env, retryBaseMs);
  let client: LoadClientProc | null = null;
  const pg = db.env.DATABASE_URL ? new Client({ connectionString: db.env.DATABASE_URL }) : null;
  try {
    await pg?.connect();
    client = await startLoadClient();
    const users = signUsers(o, deps.jwtSecret);
    const opened = await openStreams(rig, tag, server, client, users);
    await subscribeToPush(tag, server, rig.fakes, users);
    const s = new DispatchSession(o, tag, deps.progress, { server, client, fakes: rig.fakes, pg }, users, opened, round);
    const before = await warmUp(s, on);
    const sus = await runSustained(s, on, before.settled);
    const deliveries = on ? await readDeliveries(s, sus, before.pushed) : null;
    const backlog = withBacklog ? await runBacklog(s, scale, retryBaseMs) : null;
    s.close();
    return {
      dispatcher: on,
      database: db.kind,
      streamsOpen: opened.length,
      sustained: sustainedResult(sus),
      deliveries,
      backlog,
      warnings: { count: server.warningCount, first: server.warnings.slice(0, 5) },
    };
  } finally {
    await pg?.end().catch(() => undefined);
    await client?.stop();
    await server.stop();
    await db.drop();
  }
}

/** The server with the dispatcher off or on, every channel pointed at the fakes. */
async function startSideServer(rig: DispatchRig, on: boolean, dbEnv: Record<string, string>, retryBaseMs: number): Promise<ServerProc> {
  const { o, deps, urls, vapid } = rig;
  const port = await freePort();
  return startServerProcess({
    name: `dispatch server (${on ? 'on' : 'off'})`,
    entry: 'src/server.ts',
    port,
    readyPath: '/readyz',
    env: {
      ...dbEnv,
      PORT: String(port),
      JWT_SECRET: deps.jwtSecret,
      LOG_LEVEL: 'warn',
      DISPATCH_ENABLED: on ? '1' : '0',
      ESCALATE_PUSH_AFTER_S: '0',
      ESCALATE_SMS_AFTER_S: '0',
      DELIVERY_RETRY_BASE_MS: String(retryBaseMs),
      VAPID_PUBLIC_KEY: vapid.publicKey,
      VAPID_PRIVATE_KEY: vapid.privateKey,
      PUSH_ALLOWED_TEST_HOSTS: urls.pushHostPort,
      SMTP_URL: urls.smtpUrl,
      TWILIO_BASE_URL: urls.twilioUrl,
      TWILIO_ACCOUNT_SID: TWILIO_SID,
      TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
      TWILIO_SMS_FROM: '+27870000001',
      TWILIO_WHATSAPP_FROM: '+27870000002',
      PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    },
    nodeArgs: o.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(ROOT, 'bench', 'results', 'profiles', `dispatch-${on ? 'on' : 'off'}`)}`] : [],
  });
}

/** The admin, S users who hold a stream and A who are away, roles alternating. */
function signUsers(o: DispatchOptions, jwtSecret: string): SideUsers {
  const run = crypto.randomBytes(3).toString('hex');
  const sign = (sub: string, role: string) => jwt.sign({ sub, role }, jwtSecret, { algorithm: 'HS256', expiresIn: 3600 });
  const user = (id: string, i: number) => ({ id, token: sign(id, i % 2 ? 'provider' : 'client') });
  return {
    admin: sign(`bench-admin-${run}`, 'admin'),
    streamUsers: Array.from({ length: o.streams }, (_, i) => user(`dsp-${run}-s${i}`, i)),
    awayUsers: Array.from({ length: o.away }, (_, i) => user(`dsp-${run}-a${i}`, i)),
  };
}

/** Opens the stream users' streams in the load client; the indices of those that opened. */
async function openStreams(rig: DispatchRig, tag: string, server: ServerProc, client: LoadClientProc, users: SideUsers): Promise<number[]> {
  const { o, deps } = rig;
  deps.progress(`${tag} opening ${o.streams} streams; ${o.away} users away; every user turns push on`);
  const conn = await client.rpc.call<ConnectResult>(
    'connect',
    { url: `${server.url}/api/events/stream`, tokens: users.streamUsers.map((u) => u.token), concurrency: o.connectConcurrency, timeoutMs: 30_000 },
    600_000,
  );
  if (!conn.openedIndices.length) throw new Error(`${tag} no stream opened: ${JSON.stringify(conn.failures)}`);
  return conn.openedIndices;
}

/** Every user, with a stream or away, registers a push subscription the fake push service made. */
async function subscribeToPush(tag: string, server: ServerProc, fakes: LoadClientProc, users: SideUsers): Promise<void> {
  const everyone = [...users.streamUsers, ...users.awayUsers];
  const subs = await fakes.rpc.call<unknown[]>('subscribe', { n: everyone.length }, 120_000);
  const setupAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  let nextSetup = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (nextSetup < everyone.length) {
        const i = nextSetup++;
        const r = await requestJson('POST', `${server.url}/api/me/push-subscriptions`, everyone[i].token, subs[i], setupAgent);
        if (r.status !== 201) throw new Error(`${tag} push subscription answered ${r.status}: ${r.body.slice(0, 200)}`);
      }
    }),
  );
  setupAgent.destroy();
}

/** The untimed warm-up, then the sends and pushes so far, from which the timed block counts. */
async function warmUp(s: DispatchSession, on: boolean): Promise<{ settled: number; pushed: number }> {
  s.progress(`${s.tag} warm-up: ${s.o.warmup} sequential events, untimed`);
  await s.sequential('warm', s.o.warmup);
  // The warm-up's deliveries (each a push skipped: a live stream) settle before anything is timed.
  if (on) await waitSettled(s.server.url, s.expected('warm'), 60_000);
  await sleep(500);
  const settled = await sendsSettled(s.server.url);
  const pushed = (await s.fakes.rpc.call<FakeCounts>('counts')).push.received;
  s.takeRtts();
  return { settled, pushed };
}

/** M announcements, P publishers, a share to users who are away; counters read around them. */
async function runSustained(s: DispatchSession, on: boolean, settledBefore: number): Promise<Sustained> {
  const { o, pg } = s;
  s.progress(`${s.tag} sustained: ${o.events} events, ${Math.round(o.awayShare * 100)}% to away users, ${o.publishers} publishers`);
  const targets = Array.from({ length: o.events }, () => (s.random() < o.awayShare ? -1 - Math.floor(s.random() * s.awayUsers.length) : s.randomStream()));
  await sleep(STATS_SETTLE_MS);
  const c0 = await commits(pg);
  const m0 = await readMetrics(s.server.url);
  const t0 = nowMs();
  const { accepted, toAway } = await publishTargets(s, targets);
  const t1 = nowMs();
  const lagAtEnd = pg ? await cursorLag(pg) : null;
  const settledAtPublishEnd = (await sendsSettled(s.server.url)) - settledBefore;
  const postRtt = lat(s.takeRtts());
  const got = await s.awaitPhase('sus', 30_000);
  const receive = await s.phaseLatency('sus');
  // Every announcement makes one push delivery: sent (away) or skipped (a live stream).
  const done = on ? await waitSettled(s.server.url, settledBefore + accepted, 120_000) : null;
  const m1 = await readMetrics(s.server.url);
  await sleep(STATS_SETTLE_MS);
  const c1 = await commits(pg);
  return { accepted, toAway, t0, t1, lagAtEnd, settledAtPublishEnd, postRtt, receivedAll: got.reached, receive, done, m0, m1, c0, c1 };
}

/** The targets (a stream user's index, or -1 - an away user's) from P publishers as fast as they are accepted. */
async function publishTargets(s: DispatchSession, targets: number[]): Promise<{ accepted: number; toAway: number }> {
  let next = 0;
  let accepted = 0;
  let toAway = 0;
  await Promise.all(
    Array.from({ length: s.o.publishers }, async () => {
      while (next < targets.length) {
        if (isAborting()) throw new Error('aborting');
        const n = next++;
        const idx = targets[n];
        const away = idx < 0;
        const userId = away ? s.awayUsers[-1 - idx].id : s.streamUsers[idx].id;
        const ok = await s.publish(userId, JSON.stringify({ p: away ? 'away' : 'sus', s: n, t: nowMs(), u: away ? -1 : idx }));
        if (!ok) continue;
        accepted++;
        if (away) toAway++;
        else s.expect('sus');
      }
    }),
  );
  return { accepted, toAway };
}

/** The dispatcher's figures for the sustained block: settled, the cursor's lag, outcomes, the fake's pushes. */
async function readDeliveries(s: DispatchSession, sus: Sustained, pushedBefore: number): Promise<DispatchSide['deliveries']> {
  const expected = sus.accepted;
  const catchUpMs = sus.done === null ? null : sus.done - sus.t1;
  const status = JSON.parse((await getText(`${s.server.url}/api/status`)).body);
  const byOutcome: Record<string, number> = status.deliveries.byChannel.push ?? {};
  const counts = await s.fakes.rpc.call<FakeCounts>('counts');
  return {
    settledAtPublishEnd: sus.settledAtPublishEnd,
    expected,
    cursorLagAtPublishEnd: sus.lagAtEnd,
    cursorLagAtEnd: s.pg ? await cursorLag(s.pg) : null,
    catchUpMs,
    settledPerSec: sus.done === null ? null : expected / ((sus.done - sus.t0) / 1000),
    byOutcome,
    eventToSend: { samples: status.deliveries.sendDelay.samples, p50Ms: status.deliveries.sendDelay.p50Ms, p99Ms: status.deliveries.sendDelay.p99Ms },
    pushesReceived: counts.push.received - pushedBefore,
    duplicatePushes: counts.push.duplicateNotifications,
  };
}

function sustainedResult(sus: Sustained): DispatchSide['sustained'] {
  const { accepted, c0, c1 } = sus;
  return {
    accepted,
    toAway: sus.toAway,
    publishSeconds: (sus.t1 - sus.t0) / 1000,
    publishPerSec: accepted / ((sus.t1 - sus.t0) / 1000),
    postRtt: sus.postRtt,
    receive: sus.receive,
    receivedAll: sus.receivedAll,
    cpuPerEventUs: accepted ? ((sus.m1.cpuSeconds - sus.m0.cpuSeconds) * 1e6) / accepted : null,
    commitsPerEvent: c0 !== null && c1 !== null && accepted ? (c1 - c0) / accepted : null,
  };
}

/** Transactions committed in the side's database so far (PostgreSQL only). */
async function commits(pg: Client | null): Promise<number | null> {
  return pg ? Number((await pg.query('SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()')).rows[0].xact_commit) : null;
}

/** Deliveries settled so far: `notification_sends_total`. */
async function sendsSettled(url: string): Promise<number> {
  const all = (await readMetrics(url)).all;
  return all.notification_sends_total ?? 0;
}

/** Events in the log the dispatcher's cursor has not passed. */
async function cursorLag(pg: Client): Promise<number> {
  const { rows } = await pg.query("SELECT count(*) AS n FROM events WHERE id > (SELECT last_event_id FROM dispatch_cursors WHERE name = 'deliveries')");
  return Number(rows[0].n);
}

/** When (nowMs) `notification_sends_total` reached `total`, or null after `timeoutMs`. */
async function waitSettled(url: string, total: number, timeoutMs: number): Promise<number | null> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (((await readMetrics(url)).all.notification_sends_total ?? 0) >= total) return nowMs();
    await sleep(50);
  }
  return null;
}
