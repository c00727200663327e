/**
 * The `announce` phase of `npm run bench`: one announcement to everyone with U users in the
 * database (default 10,000), on its own server and fresh database.
 *
 * - users: PostgreSQL: one INSERT into `users` through `pg` (the driver knows the database URL);
 *   PGlite: the server owns the folder, so each user is created by calling `GET /api/me` with
 *   their token (C at a time), within a time budget, else the phase is skipped with the reason.
 *   Half client, half provider. Joined before the announcement, so it is in every inbox.
 * - send: rows in `notifications` and `notification_reads` counted before and after
 *   `POST /api/broadcasts {all: true}`; time to 202. Fan-out on read means 1 row, not U.
 *   (PGlite: counted once, by the driver, after the server stopped; the database was fresh.)
 * - afterwards, for S random users one at a time: `GET /api/notifications` and `GET /api/me`
 *   (each must show the announcement and an unread count >= 1), then
 *   `POST /api/notifications/read-all` (must answer unreadCount 0) and the rows that wrote.
 *
 * The sampled users and the admin make one untimed-for-the-table request each before the send
 * ("were active earlier"), so the measured requests do not include the server's first write of
 * their claims (createUserSync) — the users were inserted behind the server's back.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { Client } from 'pg';
import { nowMs } from './protocol';
import { assertNotAborting, isAborting, onCleanup, startServerProcess, ROOT, type ServerProc, type PrepareDatabase } from './procs';
import { readMetrics, requestJson, type PostResult } from './http';
import { rng, summarize } from './report';
import { freePort } from '../test/support/free-port';

type Role = 'client' | 'provider' | 'admin';

export interface AnnounceOptions {
  users: number;
  sample: number;
  /** Concurrency of user creation through the API (PGlite). */
  createConcurrency: number;
  /** Give up creating users through the API after this long, and skip the phase. */
  createBudgetMs: number;
  embedded: boolean;
  seed: number;
  profile: boolean;
}

export interface AnnounceDeps {
  jwtSecret: string;
  sign: (sub: string, role: Role) => string;
  progress: (msg: string) => void;
  prepareDatabase: PrepareDatabase;
}

interface Latency {
  n: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

interface RowCounts {
  notifications: number;
  /** Personal notifications with read_at set (read-all updates these rather than inserting). */
  notificationsRead: number;
  /** The admin's own (the warm-up broadcast's) rows. */
  adminOwn: number;
  notificationReads: number;
}

export interface AnnounceResult {
  database: string;
  /** Why the measurements are missing, when they are. */
  skipped: string | null;
  startupMs: number;
  users: {
    requested: number;
    created: number;
    via: 'sql-insert' | 'api-get-me';
    seconds: number;
    perSec: number;
    failures: Record<string, number>;
  };
  sample: number;
  send: { status: number | null; ms: number | null; serverCpuMs: number | null; eventId: string | null };
  rows: {
    /** `before-after`: counted around each step; `after-stop`: totals read after the server stopped (PGlite). */
    method: 'before-after' | 'after-stop' | null;
    before: RowCounts | null;
    afterSend: RowCounts | null;
    afterReadAll: RowCounts | null;
    /** Rows inserted into `notifications` by the announcement. */
    sendNotifications: number | null;
    /** Rows inserted into `notification_reads` by the announcement (null: not separable, after-stop). */
    sendReads: number | null;
    /** Rows inserted into `notification_reads` by the sample's read-all. */
    readAllReads: number | null;
    /** `notifications` rows marked read (read_at set) by the sample's read-all. */
    readAllMarked: number | null;
  };
  /** The same requests by the same users before the announcement (their inbox was empty). */
  before: { inbox: Latency; me: Latency };
  inbox: Latency;
  me: Latency;
  readAll: Latency;
  errors: { count: number; first: string[] };
  server: { startupWarnings: string[]; warningCount: number; warnings: string[]; shutdownMs: number; exitedGracefully: boolean };
}

const lat = (values: number[]): Latency => {
  const s = summarize(values);
  return { n: s.n, p50Ms: s.p50, p99Ms: s.p99, maxMs: s.max };
};

const emptyLatency = (): Latency => ({ n: 0, p50Ms: null, p99Ms: null, maxMs: null });

/** k distinct indices in [0, n), from the seeded PRNG (partial Fisher-Yates). */
function sampleIndices(n: number, k: number, seed: number): number[] {
  const pick = rng(seed);
  const idx = Array.from({ length: n }, (_, i) => i);
  const m = Math.min(k, n);
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(pick() * (n - i));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, m);
}

const COUNT_SQL = `SELECT count(*) AS n,
       count(*) FILTER (WHERE read_at IS NOT NULL) AS nr,
       count(*) FILTER (WHERE user_id = $1) AS admin,
       (SELECT count(*) FROM notification_reads) AS r
  FROM notifications`;

type CountRow = Record<'n' | 'nr' | 'admin' | 'r', string | number>;
const toCounts = (row: CountRow): RowCounts => ({
  notifications: Number(row.n),
  notificationsRead: Number(row.nr),
  adminOwn: Number(row.admin),
  notificationReads: Number(row.r),
});

async function countRows(c: Client, adminId: string): Promise<RowCounts> {
  return toCounts((await c.query<CountRow>(COUNT_SQL, [adminId])).rows[0]);
}

/** Totals in a PGlite folder nobody else holds (the server has stopped). */
async function countRowsPglite(dataDir: string, adminId: string): Promise<RowCounts> {
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create(path.join(dataDir, 'pg'));
  try {
    return toCounts((await db.query<CountRow>(COUNT_SQL, [adminId])).rows[0]);
  } finally {
    await db.close();
  }
}

export async function runAnnounce(o: AnnounceOptions, deps: AnnounceDeps): Promise<AnnounceResult> {
  let server: ServerProc | undefined;
  try {
    return await measureAnnounce(o, deps, (s) => (server = s));
  } catch (err) {
    const why = server?.exitReport();
    if (why && !isAborting()) throw new Error(why, { cause: err });
    throw err;
  }
}

async function measureAnnounce(o: AnnounceOptions, deps: AnnounceDeps, onServer: (s: ServerProc) => void): Promise<AnnounceResult> {
  const { progress } = deps;
  const say = (msg: string) => progress(`[announce] ${msg}`);
  const db = await deps.prepareDatabase(o.embedded);
  const port = await freePort();
  say(`starting server on :${port} (${db.kind})`);
  const t0 = Date.now();
  const server = await startServerProcess({
    name: 'server (src/server.ts, announce)',
    entry: 'src/server.ts',
    env: { PORT: String(port), JWT_SECRET: deps.jwtSecret, LOG_LEVEL: 'warn', ...db.env },
    port,
    readyPath: '/readyz',
    nodeArgs: o.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(ROOT, 'bench', 'results', 'profiles', 'announce')}`] : [],
  });
  onServer(server);
  const startupMs = Date.now() - t0;

  let pg: Client | null = null;
  let closePg = async () => {};
  if (db.env.DATABASE_URL) {
    const c = new Client({ connectionString: db.env.DATABASE_URL, connectionTimeoutMillis: 5_000 });
    // DROP DATABASE ... WITH (FORCE) ends this session if it is still open; that is not an error.
    c.on('error', () => undefined);
    await c.connect();
    pg = c;
    closePg = onCleanup('close announce pg client', () => c.end().catch(() => undefined));
  }

  const run = crypto.randomBytes(3).toString('hex');
  const users = Array.from({ length: o.users }, (_, i) => {
    const role: Role = i % 2 === 0 ? 'client' : 'provider';
    const id = `ann-${run}-${i}`;
    return { id, role, token: deps.sign(id, role) };
  });
  const admin = { id: `ann-${run}-admin`, token: deps.sign(`ann-${run}-admin`, 'admin') };

  const errors: string[] = [];
  let errorCount = 0;
  const error = (msg: string) => {
    errorCount++;
    if (errors.length < 20) errors.push(msg);
  };
  /** A request that must not fail because the server died; the caller judges the status. */
  const call = async (method: 'GET' | 'POST', p: string, token: string, body: unknown, agent: http.Agent): Promise<PostResult & { ms: number }> => {
    assertNotAborting();
    const t = nowMs();
    try {
      const r = await requestJson(method, `${server.url}${p}`, token, body, agent);
      return { ...r, ms: nowMs() - t };
    } catch (err) {
      const why = server.exitReport();
      if (why) throw new Error(why, { cause: err });
      return { status: 0, body: (err as NodeJS.ErrnoException).code ?? (err as Error).message, ms: nowMs() - t };
    }
  };
  const json = (r: PostResult): any => {
    try {
      return JSON.parse(r.body);
    } catch {
      return undefined;
    }
  };

  const result: AnnounceResult = {
    database: db.kind,
    skipped: null,
    startupMs,
    users: { requested: o.users, created: 0, via: pg ? 'sql-insert' : 'api-get-me', seconds: 0, perSec: 0, failures: {} },
    sample: 0,
    send: { status: null, ms: null, serverCpuMs: null, eventId: null },
    rows: {
      method: null,
      before: null,
      afterSend: null,
      afterReadAll: null,
      sendNotifications: null,
      sendReads: null,
      readAllReads: null,
      readAllMarked: null,
    },
    before: { inbox: emptyLatency(), me: emptyLatency() },
    inbox: emptyLatency(),
    me: emptyLatency(),
    readAll: emptyLatency(),
    errors: { count: 0, first: errors },
    server: { startupWarnings: server.startupWarnings, warningCount: 0, warnings: server.warnings, shutdownMs: 0, exitedGracefully: true },
  };

  // One request at a time for every timed call, on a kept-alive socket: server time, not TCP setup.
  const seq = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const pool = new http.Agent({ keepAlive: true, maxSockets: o.createConcurrency });
  try {
    // --- users -----------------------------------------------------------------------------------
    const tc = nowMs();
    if (pg) {
      say(`inserting ${o.users} users (one INSERT)`);
      const r = await pg.query('INSERT INTO users (id, role) SELECT * FROM unnest($1::text[], $2::text[])', [users.map((u) => u.id), users.map((u) => u.role)]);
      result.users.created = r.rowCount ?? 0;
    } else {
      say(`creating ${o.users} users through GET /api/me, ${o.createConcurrency} at a time (budget ${o.createBudgetMs / 1000} s)`);
      const deadline = Date.now() + o.createBudgetMs;
      let next = 0;
      let lastReport = Date.now();
      await Promise.all(
        Array.from({ length: o.createConcurrency }, async () => {
          while (next < users.length && Date.now() < deadline) {
            const u = users[next++];
            const r = await call('GET', '/api/me', u.token, undefined, pool);
            if (r.status === 200) result.users.created++;
            else {
              const k = r.status ? `HTTP ${r.status}` : r.body;
              result.users.failures[k] = (result.users.failures[k] ?? 0) + 1;
            }
            if (Date.now() - lastReport > 10_000) {
              lastReport = Date.now();
              say(`${result.users.created}/${o.users} users created`);
            }
          }
        }),
      );
    }
    result.users.seconds = (nowMs() - tc) / 1000;
    result.users.perSec = result.users.created / Math.max(1e-9, result.users.seconds);
    say(`${result.users.created}/${o.users} users in ${result.users.seconds.toFixed(1)} s (${result.users.perSec.toFixed(0)}/s)`);
    if (result.users.created < o.users) {
      result.skipped =
        `only ${result.users.created} of ${o.users} users created in ${result.users.seconds.toFixed(0)} s` +
        (Object.keys(result.users.failures).length ? ` (failures ${JSON.stringify(result.users.failures)})` : '') +
        (pg ? '' : `; the budget for creating them through the API is ${o.createBudgetMs / 1000} s`);
      say(`skipped: ${result.skipped}`);
      return result;
    }

    // --- warm-up: the sample and the admin have been active before -------------------------------
    const sample = sampleIndices(users.length, o.sample, o.seed).map((i) => users[i]);
    result.sample = sample.length;
    say(`sample of ${sample.length}: inbox and unread count before the announcement`);
    const beforeInbox: number[] = [];
    const beforeMe: number[] = [];
    for (const u of sample) {
      const a = await call('GET', '/api/notifications', u.token, undefined, seq);
      if (a.status !== 200) error(`${u.id}: GET /api/notifications before answered ${a.status} ${a.body.slice(0, 200)}`);
      else beforeInbox.push(a.ms);
      const b = await call('GET', '/api/me', u.token, undefined, seq);
      if (b.status !== 200) error(`${u.id}: GET /api/me before answered ${b.status} ${b.body.slice(0, 200)}`);
      else {
        beforeMe.push(b.ms);
        if (json(b)?.unreadCount !== 0) error(`${u.id}: unreadCount before the announcement is ${json(b)?.unreadCount}, expected 0`);
      }
    }
    result.before = { inbox: lat(beforeInbox), me: lat(beforeMe) };
    // The admin's claims are written, and the publish path compiled, by a broadcast to the admin
    // alone (a personal notification), before anything is counted.
    const warm = await call('POST', '/api/broadcasts', admin.token, { title: 'bench warm-up', body: 'to the admin only', userIds: [admin.id] }, seq);
    if (warm.status !== 202) error(`warm-up broadcast to the admin answered ${warm.status} ${warm.body.slice(0, 200)}`);

    // --- the announcement ----------------------------------------------------------------------
    const title = `bench announcement ${run}`;
    const body = `To all ${o.users} users, sent by the bench at ${new Date().toISOString()}`;
    if (pg) {
      result.rows.method = 'before-after';
      result.rows.before = await countRows(pg, admin.id);
    }
    say(`POST /api/broadcasts {all: true} with ${o.users} users in the database`);
    const m0 = await readMetrics(server.url);
    const sent = await call('POST', '/api/broadcasts', admin.token, { title, body, all: true }, seq);
    const m1 = await readMetrics(server.url);
    result.send = {
      status: sent.status,
      ms: sent.status === 202 ? sent.ms : null,
      serverCpuMs: (m1.cpuSeconds - m0.cpuSeconds) * 1000,
      eventId: json(sent)?.eventId ?? null,
    };
    if (sent.status !== 202) {
      error(`POST /api/broadcasts {all: true} answered ${sent.status} ${sent.body.slice(0, 200)}`);
    }
    if (pg) {
      result.rows.afterSend = await countRows(pg, admin.id);
      result.rows.sendNotifications = result.rows.afterSend.notifications - result.rows.before!.notifications;
      result.rows.sendReads = result.rows.afterSend.notificationReads - result.rows.before!.notificationReads;
    }
    say(`202 after ${sent.ms.toFixed(1)} ms` + (pg ? `; rows written: ${result.rows.sendNotifications} notifications, ${result.rows.sendReads} reads` : ''));

    // --- each sampled user's inbox and unread count ------------------------------------------
    say(`sample of ${sample.length}: GET /api/notifications and GET /api/me, one at a time`);
    const inbox: number[] = [];
    const me: number[] = [];
    for (const u of sample) {
      const a = await call('GET', '/api/notifications', u.token, undefined, seq);
      if (a.status !== 200) error(`${u.id}: GET /api/notifications answered ${a.status} ${a.body.slice(0, 200)}`);
      else {
        inbox.push(a.ms);
        const v = json(a);
        const list: Array<{ type: string; title: string; body: string; readAt: string | null }> = v?.notifications ?? [];
        const found = list.find((n) => n.title === title && n.body === body);
        if (!found) error(`${u.id} (${u.role}): the announcement is not in GET /api/notifications (${list.length} notifications)`);
        else if (found.type !== 'announcement' || found.readAt !== null)
          error(`${u.id}: announcement listed as ${JSON.stringify({ type: found.type, readAt: found.readAt })}`);
        if (!(typeof v?.unreadCount === 'number' && v.unreadCount >= 1))
          error(`${u.id} (${u.role}): GET /api/notifications unreadCount ${v?.unreadCount}, expected >= 1`);
      }
      const b = await call('GET', '/api/me', u.token, undefined, seq);
      if (b.status !== 200) error(`${u.id}: GET /api/me answered ${b.status} ${b.body.slice(0, 200)}`);
      else {
        me.push(b.ms);
        const c = json(b)?.unreadCount;
        if (!(typeof c === 'number' && c >= 1)) error(`${u.id} (${u.role}): GET /api/me unreadCount ${c}, expected >= 1`);
      }
    }
    result.inbox = lat(inbox);
    result.me = lat(me);

    // --- read-all ------------------------------------------------------------------------------
    say(`sample of ${sample.length}: POST /api/notifications/read-all, one at a time`);
    const readAll: number[] = [];
    for (const u of sample) {
      const r = await call('POST', '/api/notifications/read-all', u.token, undefined, seq);
      if (r.status !== 200) error(`${u.id}: POST /api/notifications/read-all answered ${r.status} ${r.body.slice(0, 200)}`);
      else {
        readAll.push(r.ms);
        const c = json(r)?.unreadCount;
        if (c !== 0) error(`${u.id}: read-all answered unreadCount ${c}, expected 0`);
      }
    }
    result.readAll = lat(readAll);
    if (pg) {
      result.rows.afterReadAll = await countRows(pg, admin.id);
      result.rows.readAllReads = result.rows.afterReadAll.notificationReads - result.rows.afterSend!.notificationReads;
      result.rows.readAllMarked = result.rows.afterReadAll.notificationsRead - result.rows.afterSend!.notificationsRead;
      if (result.rows.afterReadAll.notifications !== result.rows.afterSend!.notifications) {
        error(`read-all changed the number of notifications rows: ${result.rows.afterSend!.notifications} -> ${result.rows.afterReadAll.notifications}`);
      }
    }
    // Read state sticks: the unread count each of them sees now.
    for (const u of sample) {
      const b = await call('GET', '/api/me', u.token, undefined, seq);
      const c = json(b)?.unreadCount;
      if (b.status !== 200 || c !== 0) error(`${u.id}: after read-all GET /api/me answered ${b.status}, unreadCount ${c}, expected 0`);
    }
    return result;
  } finally {
    seq.destroy();
    pool.destroy();
    result.errors.count = errorCount;
    await closePg();
    say('stopping');
    result.server.warningCount = server.warningCount;
    const stopped = await server.stop();
    result.server.shutdownMs = stopped.ms;
    result.server.exitedGracefully = stopped.exitedGracefully;
    if (!pg && db.env.DATA_DIR && result.skipped === null && result.send.status === 202 && !isAborting()) {
      // The database was fresh and only the admin's warm-up, the announcement and read-all wrote
      // these tables: totals after the server stopped stand in for before/after counts. Reads
      // written by the send (there should be none) cannot be told from read-all's here.
      try {
        const total = await countRowsPglite(db.env.DATA_DIR, admin.id);
        result.rows.method = 'after-stop';
        result.rows.afterReadAll = total;
        result.rows.sendNotifications = total.notifications - total.adminOwn;
        result.rows.readAllReads = total.notificationReads;
        result.rows.readAllMarked = total.notificationsRead;
      } catch (err) {
        say(`could not count rows in the PGlite folder after the server stopped: ${(err as Error).message}`);
      }
    }
    await db.drop();
  }
}
