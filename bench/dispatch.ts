/**
 * The `dispatch` phase of `npm run bench` (`--only dispatch`): what the delivery dispatcher
 * (src/channels/dispatcher.ts) costs the publishing path, whether it keeps up, and how a backlog
 * drains. Its own server (src/server.ts) on its own fresh database per side; the channels'
 * far ends (push service, Twilio, SMTP: the test suite's fakes) in a forked process of their own
 * (channel-fakes.ts); the streams in the load client (load-client.ts).
 *
 * Side by side, alternating which goes first: the same server with DISPATCH_ENABLED=0 ("off")
 * and =1 ("on"), every channel configured, ESCALATE_PUSH_AFTER_S=0 (every announcement's push is
 * due at once: the most the dispatcher can be asked to do per event). S users hold streams, A more
 * are away (no stream); all turned push notifications on. Then the bench's sustained targeted
 * publishing: M announcements to random users (a share to away users) from P publishers as fast
 * as they are accepted. Per side: POST round trip p50/p99, publish->receive p50/p99 at the streams;
 * with the dispatcher on: deliveries settled per second, event-to-send p50/p99 (the server's
 * telemetry), the cursor's lag when publishing ended and how long it took to catch up, and the
 * pushes the fake received (each once).
 *
 * Backlog (once, on the first "on" side): the push service answers 503 for `outageSeconds` while
 * announcements to away users are published at `outageRate`/s, then takes pushes again. It stands
 * for 10 minutes of an outage with time compressed by k = 600 / outageSeconds: the retry backoff
 * (DELIVERY_RETRY_BASE_MS = 30 s / k) shrinks by k, so the retries and the backlog's shape are
 * those of a 10-minute outage at outageRate / k notifications a second. Measured: the time from
 * "up" to the last push sent (x k for real time), every push sent once, none given up, and live
 * streams' publish->receive p50/p99 before the outage, during it, during the drain and after.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import webpush from 'web-push';
import { Client } from 'pg';
import { nowMs, type ConnectResult, type PhaseReport } from './protocol';
import { isAborting, startLoadClient, startServerProcess, ROOT, type LoadClientProc, type PrepareDatabase } from './procs';
import { getText, postJson, readMetrics, requestJson } from './http';
import { fmt, median, rng, summarize } from './report';
import type { FakeCounts, FakeUrls } from './channel-fakes';
import { freePort } from '../test/support/free-port';
import { sleep } from '../test/support/sleep';

/**
 * How long the commit counter needs to be whole. A backend publishes its counts when it goes idle,
 * but at most once a second; counts held back so are published by the idle backend's ten-second
 * timer (PostgreSQL's PGSTAT_MIN_INTERVAL and PGSTAT_IDLE_INTERVAL). A shorter wait lets a side's
 * warm-up commits land in its timed window and leaves its last ones out.
 */
const STATS_SETTLE_MS = 11_000;
const TWILIO_SID = `AC${'be'.repeat(16)}`;
const TWILIO_TOKEN = 'bench-twilio-auth-token-0123456789';

export interface DispatchOptions {
  streams: number;
  /** Users with push turned on and no stream open. */
  away: number;
  events: number;
  /** Share of the sustained events addressed to away users (their push is sent). */
  awayShare: number;
  publishers: number;
  warmup: number;
  latencySamples: number;
  /** Off/on pairs, alternating which goes first; the table shows medians. */
  rounds: number;
  /** The backlog's outage (s; 0 skips the backlog) and the announcements per second meanwhile. */
  outageSeconds: number;
  outageRate: number;
  connectConcurrency: number;
  embedded: boolean;
  profile: boolean;
  seed: number;
}

export interface DispatchDeps {
  jwtSecret: string;
  progress: (msg: string) => void;
  prepareDatabase: PrepareDatabase;
}

interface Latency {
  samples: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface DispatchSide {
  dispatcher: boolean;
  database: string;
  streamsOpen: number;
  sustained: {
    accepted: number;
    toAway: number;
    publishSeconds: number;
    publishPerSec: number;
    postRtt: Latency;
    receive: Latency;
    receivedAll: boolean;
    /** Server CPU from the first publish until every delivery settled (on) or the same pause (off). */
    cpuPerEventUs: number | null;
    /** PostgreSQL transactions committed in this database over that span, per event (PostgreSQL only). */
    commitsPerEvent: number | null;
  };
  /** Dispatcher on only. */
  deliveries: null | {
    settledAtPublishEnd: number;
    expected: number;
    /** Events behind the cursor the moment publishing ended (PostgreSQL only: read from outside). */
    cursorLagAtPublishEnd: number | null;
    cursorLagAtEnd: number | null;
    /** From the end of publishing until every delivery of the run was settled. */
    catchUpMs: number | null;
    settledPerSec: number | null;
    byOutcome: Record<string, number>;
    eventToSend: Latency;
    pushesReceived: number;
    duplicatePushes: number;
  };
  backlog: null | Backlog;
  warnings: { count: number; first: string[] };
}

export interface Backlog {
  outageSeconds: number;
  scale: number;
  retryBaseMs: number;
  published: number;
  ratePerSec: number;
  /** Deliveries queued for a retry when the push service came back. */
  waitingAtUp: number;
  drainMs: number | null;
  drained: boolean;
  sentInDrain: number;
  failed: number;
  duplicatePushes: number;
  refusedByFake: number;
  latency: { before: Latency; outage: Latency; drain: Latency; after: Latency };
}

interface SideSummary {
  postP50Ms: number | null;
  postP99Ms: number | null;
  receiveP50Ms: number | null;
  receiveP99Ms: number | null;
  publishPerSec: number | null;
  cpuPerEventUs: number | null;
  commitsPerEvent: number | null;
}

export interface DispatchResult {
  options: DispatchOptions;
  sides: DispatchSide[];
  summary: {
    off: SideSummary;
    on: SideSummary;
    postP50Ratio: number | null;
    receiveP50Ratio: number | null;
  };
}

const lat = (values: number[]): Latency => {
  const s = summarize(values);
  return { samples: s.n, p50Ms: s.p50, p99Ms: s.p99 };
};

export async function runDispatch(o: DispatchOptions, deps: DispatchDeps): Promise<DispatchResult> {
  const { progress } = deps;
  const fakes = await startLoadClient('channel-fakes.ts');
  try {
    const urls = await fakes.rpc.call<FakeUrls>('start', { twilioSid: TWILIO_SID, twilioToken: TWILIO_TOKEN });
    const vapid = webpush.generateVAPIDKeys();
    const sides: DispatchSide[] = [];
    let backlogDone = o.outageSeconds === 0;
    for (let round = 0; round < o.rounds; round++) {
      const order = round % 2 === 0 ? [false, true] : [true, false];
      for (const on of order) {
        const withBacklog = on && !backlogDone;
        progress(`[dispatch] round ${round + 1}/${o.rounds}: dispatcher ${on ? 'on' : 'off'}${withBacklog ? ', then the backlog' : ''}`);
        sides.push(await runSide(o, deps, fakes, urls, vapid, on, withBacklog, round));
        if (withBacklog) backlogDone = true;
      }
    }
    const pick = (on: boolean, f: (s: DispatchSide) => number | null) =>
      median(
        sides
          .filter((s) => s.dispatcher === on)
          .map(f)
          .filter((v): v is number => v !== null),
      );
    const side = (on: boolean) => ({
      postP50Ms: pick(on, (s) => s.sustained.postRtt.p50Ms),
      postP99Ms: pick(on, (s) => s.sustained.postRtt.p99Ms),
      receiveP50Ms: pick(on, (s) => s.sustained.receive.p50Ms),
      receiveP99Ms: pick(on, (s) => s.sustained.receive.p99Ms),
      publishPerSec: pick(on, (s) => s.sustained.publishPerSec),
      cpuPerEventUs: pick(on, (s) => s.sustained.cpuPerEventUs),
      commitsPerEvent: pick(on, (s) => s.sustained.commitsPerEvent),
    });
    const off = side(false);
    const onS = side(true);
    const r = (a: number | null, b: number | null) => (a !== null && b ? a / b : null);
    return {
      options: o,
      sides,
      summary: { off, on: onS, postP50Ratio: r(onS.postP50Ms, off.postP50Ms), receiveP50Ratio: r(onS.receiveP50Ms, off.receiveP50Ms) },
    };
  } finally {
    await fakes.stop();
  }
}

async function runSide(
  o: DispatchOptions,
  deps: DispatchDeps,
  fakes: LoadClientProc,
  urls: FakeUrls,
  vapid: { publicKey: string; privateKey: string },
  on: boolean,
  withBacklog: boolean,
  round: number,
): Promise<DispatchSide> {
  const { progress } = deps;
  const tag = `[dispatch ${on ? 'on ' : 'off'}]`;
  const scale = o.outageSeconds > 0 ? 600 / o.outageSeconds : 1;
  const retryBaseMs = Math.max(10, Math.round(30_000 / scale));
  const db = await deps.prepareDatabase(o.embedded);
  const port = await freePort();
  const server = await startServerProcess({
    name: `dispatch server (${on ? 'on' : 'off'})`,
    entry: 'src/server.ts',
    port,
    readyPath: '/readyz',
    env: {
      ...db.env,
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
  let client: LoadClientProc | null = null;
  const pg = db.env.DATABASE_URL ? new Client({ connectionString: db.env.DATABASE_URL }) : null;
  try {
    await pg?.connect();
    client = await startLoadClient();
    const run = crypto.randomBytes(3).toString('hex');
    const sign = (sub: string, role: string) => jwt.sign({ sub, role }, deps.jwtSecret, { algorithm: 'HS256', expiresIn: 3600 });
    const admin = sign(`bench-admin-${run}`, 'admin');
    const streamUsers = Array.from({ length: o.streams }, (_, i) => ({
      id: `dsp-${run}-s${i}`,
      token: sign(`dsp-${run}-s${i}`, i % 2 ? 'provider' : 'client'),
    }));
    const awayUsers = Array.from({ length: o.away }, (_, i) => ({ id: `dsp-${run}-a${i}`, token: sign(`dsp-${run}-a${i}`, i % 2 ? 'provider' : 'client') }));

    progress(`${tag} opening ${o.streams} streams; ${o.away} users away; every user turns push on`);
    const conn = await client.rpc.call<ConnectResult>(
      'connect',
      { url: `${server.url}/api/events/stream`, tokens: streamUsers.map((u) => u.token), concurrency: o.connectConcurrency, timeoutMs: 30_000 },
      600_000,
    );
    const opened = conn.openedIndices;
    if (!opened.length) throw new Error(`${tag} no stream opened: ${JSON.stringify(conn.failures)}`);
    const subs = await fakes.rpc.call<unknown[]>('subscribe', { n: o.streams + o.away }, 120_000);
    const setupAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const everyone = [...streamUsers, ...awayUsers];
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

    const agent = new http.Agent({ keepAlive: true, maxSockets: o.publishers + 1 });
    const publishUrl = `${server.url}/api/broadcasts`;
    const rtts: number[] = [];
    let publishErrors = 0;
    const publish = async (userId: string, body: string): Promise<boolean> => {
      const t = nowMs();
      try {
        const r = await postJson(publishUrl, admin, { title: 'bench', body, userIds: [userId] }, agent);
        rtts.push(nowMs() - t);
        if (r.status === 202) return true;
        if (++publishErrors === 1) progress(`${tag} publish answered ${r.status}: ${r.body.slice(0, 200)}`);
      } catch (err) {
        const why = server.exitReport();
        if (why) throw new Error(why, { cause: err });
        if (++publishErrors === 1) progress(`${tag} publish failed: ${(err as Error).message}`);
      }
      return false;
    };
    const expectedByPhase = new Map<string, number>();
    const awaitPhase = async (phase: string, timeoutMs: number) =>
      client!.rpc.call<{ reached: boolean; unique: number }>('await', { phase, total: expectedByPhase.get(phase) ?? 0, timeoutMs }, timeoutMs + 5_000);
    const pick = rng(o.seed + round);
    const randomStream = () => opened[Math.floor(pick() * opened.length)];
    /** One event at a time to a random stream, the next after it arrived. */
    const sequential = async (phase: string, count: number, until?: () => boolean) => {
      for (let s = 0; s < count && !(until?.() ?? false); s++) {
        const idx = randomStream();
        if (!(await publish(streamUsers[idx].id, JSON.stringify({ p: phase, s, t: nowMs(), u: idx })))) continue;
        expectedByPhase.set(phase, (expectedByPhase.get(phase) ?? 0) + 1);
        await awaitPhase(phase, 5_000);
      }
    };
    const phaseLatency = async (phase: string) => lat((await client!.rpc.call<PhaseReport>('report', { phase })).latencies);

    progress(`${tag} warm-up: ${o.warmup} sequential events, untimed`);
    await sequential('warm', o.warmup);
    const sendsOf = async () => {
      const all = (await readMetrics(server.url)).all;
      return all.notification_sends_total ?? 0;
    };
    // The warm-up's deliveries (each a push skipped: a live stream) settle before anything is timed.
    if (on) await waitSettled(server.url, expectedByPhase.get('warm') ?? 0, 60_000);
    await sleep(500);
    const settledBefore = await sendsOf();
    const pushedBefore = (await fakes.rpc.call<FakeCounts>('counts')).push.received;
    rtts.splice(0);

    // --- sustained: M announcements, P publishers, a share to users who are away ---------------
    progress(`${tag} sustained: ${o.events} events, ${Math.round(o.awayShare * 100)}% to away users, ${o.publishers} publishers`);
    const targets = Array.from({ length: o.events }, () => (pick() < o.awayShare ? -1 - Math.floor(pick() * awayUsers.length) : randomStream()));
    let next = 0;
    let accepted = 0;
    let toAway = 0;
    const commits = async () =>
      pg ? Number((await pg.query('SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()')).rows[0].xact_commit) : null;
    await sleep(STATS_SETTLE_MS);
    const c0 = await commits();
    const m0 = await readMetrics(server.url);
    const t0 = nowMs();
    await Promise.all(
      Array.from({ length: o.publishers }, async () => {
        while (next < targets.length) {
          if (isAborting()) throw new Error('aborting');
          const s = next++;
          const idx = targets[s];
          const away = idx < 0;
          const userId = away ? awayUsers[-1 - idx].id : streamUsers[idx].id;
          const ok = await publish(userId, JSON.stringify({ p: away ? 'away' : 'sus', s, t: nowMs(), u: away ? -1 : idx }));
          if (!ok) continue;
          accepted++;
          if (away) toAway++;
          else expectedByPhase.set('sus', (expectedByPhase.get('sus') ?? 0) + 1);
        }
      }),
    );
    const t1 = nowMs();
    const lagAtEnd = pg ? await cursorLag(pg) : null;
    const settledAtPublishEnd = (await sendsOf()) - settledBefore;
    const postRtt = lat(rtts.splice(0));
    const got = await awaitPhase('sus', 30_000);
    const receive = await phaseLatency('sus');
    // Every announcement makes one push delivery: sent (away) or skipped (a live stream).
    const done = on ? await waitSettled(server.url, settledBefore + accepted, 120_000) : null;
    const m1 = await readMetrics(server.url);
    await sleep(STATS_SETTLE_MS);
    const c1 = await commits();

    let deliveries: DispatchSide['deliveries'] = null;
    if (on) {
      const expected = accepted;
      const catchUpMs = done === null ? null : done - t1;
      const status = JSON.parse((await getText(`${server.url}/api/status`)).body);
      const byOutcome: Record<string, number> = status.deliveries.byChannel.push ?? {};
      const counts = await fakes.rpc.call<FakeCounts>('counts');
      deliveries = {
        settledAtPublishEnd,
        expected,
        cursorLagAtPublishEnd: lagAtEnd,
        cursorLagAtEnd: pg ? await cursorLag(pg) : null,
        catchUpMs,
        settledPerSec: done === null ? null : expected / ((done - t0) / 1000),
        byOutcome,
        eventToSend: { samples: status.deliveries.sendDelay.samples, p50Ms: status.deliveries.sendDelay.p50Ms, p99Ms: status.deliveries.sendDelay.p99Ms },
        pushesReceived: counts.push.received - pushedBefore,
        duplicatePushes: counts.push.duplicateNotifications,
      };
    }

    const backlog = withBacklog ? await runBacklog() : null;

    async function runBacklog(): Promise<Backlog> {
      const samples = Math.max(20, Math.round(o.latencySamples / 2));
      progress(`${tag} backlog: ${samples} latency samples before the outage`);
      await sequential('before', samples);
      const sentBefore = (await fakes.rpc.call<FakeCounts>('counts')).push.received;
      const refusedBefore = (await fakes.rpc.call<FakeCounts>('counts')).push.refused;
      await fakes.rpc.call('down');
      const total = Math.round(o.outageSeconds * o.outageRate);
      progress(`${tag} backlog: push service down for ${o.outageSeconds} s (stands for 600 s, k = ${scale.toFixed(1)}), ${total} announcements to away users`);
      const outageStart = nowMs();
      let published = 0;
      let stop = false;
      const publisher = (async () => {
        // Open loop: each announcement is due at its time whatever the server does.
        let inFlight = 0;
        const waits: Promise<void>[] = [];
        for (let i = 0; i < total; i++) {
          const due = outageStart + (i * 1000) / o.outageRate;
          const wait = due - nowMs();
          if (wait > 0) await sleep(wait);
          if (inFlight >= 16) await Promise.race(waits);
          inFlight++;
          const p = publish(awayUsers[i % awayUsers.length].id, JSON.stringify({ p: 'outage-away', s: i, t: nowMs(), u: -1 })).then((ok) => {
            inFlight--;
            if (ok) published++;
            void waits.splice(waits.indexOf(p), 1);
          });
          waits.push(p);
        }
        await Promise.all(waits);
      })();
      await sequential('outage', Number.MAX_SAFE_INTEGER, () => nowMs() - outageStart >= o.outageSeconds * 1000);
      await publisher;
      rtts.splice(0);
      const waitingAtUp = pg
        ? Number((await pg.query("SELECT count(*) AS n FROM notification_deliveries WHERE status IN ('queued', 'sending') AND attempts > 0")).rows[0].n)
        : -1;
      await fakes.rpc.call('up');
      const up = nowMs();
      const wanted = sentBefore + published;
      progress(`${tag} backlog: push service up; ${published} pushes to drain, latency samples meanwhile`);
      let drainedAt: number | null = null;
      const watcher = (async () => {
        const deadline = up + 20 * o.outageSeconds * 1000;
        while (nowMs() < deadline) {
          if ((await fakes.rpc.call<FakeCounts>('counts')).push.received >= wanted) {
            drainedAt = nowMs();
            return;
          }
          await sleep(100);
        }
      })();
      await sequential('drain', Number.MAX_SAFE_INTEGER, () => drainedAt !== null || stop);
      await watcher;
      stop = true;
      await sequential('after', samples);
      const counts = await fakes.rpc.call<FakeCounts>('counts');
      const status = JSON.parse((await getText(`${server.url}/api/status`)).body);
      return {
        outageSeconds: o.outageSeconds,
        scale,
        retryBaseMs,
        published,
        ratePerSec: o.outageRate,
        waitingAtUp,
        drainMs: drainedAt === null ? null : drainedAt - up,
        drained: drainedAt !== null,
        sentInDrain: counts.push.received - sentBefore,
        failed: status.deliveries.byChannel.push?.failed ?? 0,
        duplicatePushes: counts.push.duplicateNotifications,
        refusedByFake: counts.push.refused - refusedBefore,
        latency: {
          before: await phaseLatency('before'),
          outage: await phaseLatency('outage'),
          drain: await phaseLatency('drain'),
          after: await phaseLatency('after'),
        },
      };
    }

    agent.destroy();
    return {
      dispatcher: on,
      database: db.kind,
      streamsOpen: opened.length,
      sustained: {
        accepted,
        toAway,
        publishSeconds: (t1 - t0) / 1000,
        publishPerSec: accepted / ((t1 - t0) / 1000),
        postRtt,
        receive,
        receivedAll: got.reached,
        cpuPerEventUs: accepted ? ((m1.cpuSeconds - m0.cpuSeconds) * 1e6) / accepted : null,
        commitsPerEvent: c0 !== null && c1 !== null && accepted ? (c1 - c0) / accepted : null,
      },
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

// ---------------------------------------------------------------------------------------------

export function dispatchReport(r: DispatchResult): string[] {
  const out: string[] = [''];
  const o = r.options;
  out.push(
    `Dispatcher: ${o.streams} streams + ${o.away} users away (all with push on), ${o.events} announcements (${Math.round(o.awayShare * 100)}% to away users), ` +
      `${o.publishers} publishers, ESCALATE_PUSH_AFTER_S=0; own server and fresh database per side; medians of ${o.rounds} off/on pair(s)`,
  );
  out.push('');
  const s = r.summary;
  const rows: Array<[string, string, number | null, number | null, number]> = [
    ['sustained: publishes accepted', 'events/s', s.off.publishPerSec, s.on.publishPerSec, 0],
    ['POST /api/broadcasts p50', 'ms', s.off.postP50Ms, s.on.postP50Ms, 2],
    ['POST /api/broadcasts p99', 'ms', s.off.postP99Ms, s.on.postP99Ms, 2],
    ['publish->receive at the stream p50', 'ms', s.off.receiveP50Ms, s.on.receiveP50Ms, 2],
    ['publish->receive at the stream p99', 'ms', s.off.receiveP99Ms, s.on.receiveP99Ms, 2],
    ['server CPU per event (until all settled)', 'us', s.off.cpuPerEventUs, s.on.cpuPerEventUs, 0],
    ['PostgreSQL commits per event', 'commits', s.off.commitsPerEvent, s.on.commitsPerEvent, 2],
  ];
  const w = Math.max(...rows.map((x) => x[0].length));
  out.push(`${'metric'.padEnd(w)} | unit     |    off |     on | on/off`);
  out.push(`${'-'.repeat(w)}-|----------|--------|--------|-------`);
  for (const [name, unit, a, b, d] of rows) {
    out.push(`${name.padEnd(w)} | ${unit.padEnd(8)} | ${fmt(a, d).padStart(6)} | ${fmt(b, d).padStart(6)} | ${a && b !== null ? (b / a).toFixed(2) : 'n/a'}`);
  }
  out.push(
    `target: POST p50 on/off <= 1.10: ${s.postP50Ratio === null ? 'n/a' : `${s.postP50Ratio.toFixed(2)} ${s.postP50Ratio <= 1.1 ? 'met' : 'NOT MET'}`}; ` +
      `publish->receive p50 on/off ${s.receiveP50Ratio === null ? 'n/a' : s.receiveP50Ratio.toFixed(2)}`,
  );
  for (const side of r.sides) {
    const su = side.sustained;
    let line =
      `  ${side.dispatcher ? 'on ' : 'off'}: ${su.accepted} accepted (${su.toAway} to away users) in ${su.publishSeconds.toFixed(2)} s, ` +
      `POST p50/p99 ${fmt(su.postRtt.p50Ms, 2)}/${fmt(su.postRtt.p99Ms, 2)} ms, receive p50/p99 ${fmt(su.receive.p50Ms, 2)}/${fmt(su.receive.p99Ms, 2)} ms, ` +
      `server CPU ${fmt(su.cpuPerEventUs, 0)} us/event, ${fmt(su.commitsPerEvent, 2)} PostgreSQL commits/event${su.receivedAll ? '' : ', NOT ALL RECEIVED'}`;
    const d = side.deliveries;
    if (d) {
      line +=
        `\n       deliveries: ${d.settledAtPublishEnd}/${d.expected} settled when publishing ended, all ${d.catchUpMs === null ? 'NOT settled' : `settled ${fmt(d.catchUpMs, 0)} ms later`}` +
        ` (${fmt(d.settledPerSec, 0)}/s over the run); cursor lag ${d.cursorLagAtPublishEnd ?? 'n/a'} events at publish end, ${d.cursorLagAtEnd ?? 'n/a'} at the end; ` +
        `push ${JSON.stringify(d.byOutcome)}; event->send p50/p99 ${fmt(d.eventToSend.p50Ms, 1)}/${fmt(d.eventToSend.p99Ms, 1)} ms (${d.eventToSend.samples} sends); ` +
        `the fake took ${d.pushesReceived} pushes, ${d.duplicatePushes} twice`;
    }
    if (side.warnings.count) line += `\n       server logged ${side.warnings.count} warn/error lines, first: ${side.warnings.first[0]}`;
    out.push(line);
    const b = side.backlog;
    if (b) {
      const l = b.latency;
      const f = (x: Latency) => `${fmt(x.p50Ms, 2)}/${fmt(x.p99Ms, 2)} ms (${x.samples})`;
      out.push(
        `  backlog: push service down ${b.outageSeconds} s = 600 s / k, k = ${b.scale.toFixed(1)} (retry base ${b.retryBaseMs} ms = 30 s / k); ` +
          `${b.published} announcements to away users at ${b.ratePerSec}/s (= ${fmt(b.ratePerSec / b.scale, 1)}/s for 10 real minutes); ` +
          `${b.waitingAtUp >= 0 ? b.waitingAtUp : 'n/a'} waiting for a retry at "up"; the fake refused ${b.refusedByFake} attempts`,
      );
      out.push(
        `           drained ${b.drained ? `in ${fmt((b.drainMs ?? 0) / 1000, 1)} s (= ${fmt(((b.drainMs ?? 0) / 1000) * b.scale, 0)} s real)` : 'NOT within the time allowed'}; ` +
          `${b.sentInDrain} pushes sent since the outage began, ${b.duplicatePushes} twice, ${b.failed} given up`,
      );
      out.push(`           live streams publish->receive p50/p99: before ${f(l.before)}, outage ${f(l.outage)}, drain ${f(l.drain)}, after ${f(l.after)}`);
    }
  }
  out.push('');
  return out;
}
