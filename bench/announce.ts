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
 *
 * This file holds the phase's shapes and runs its steps: announce-steps.ts (the steps, in order)
 * with announce-session.ts (what they share) and announce-rows.ts (the rows counted).
 */
import path from 'node:path';
import { Client } from 'pg';
import { isAborting, onCleanup, startServerProcess, ROOT, type ServerProc, type PrepareDatabase } from './procs';
import { AnnounceSession, makeAnnounceUsers } from './announce-session';
import { beforeTheAnnouncement, confirmRead, createUsers, readAll, readInboxes, sendAnnouncement, skippedForTooFewUsers } from './announce-steps';
import { countRowsAfterStop, type RowCounts } from './announce-rows';
import { rng } from './report';
import { freePort } from '../test/support/free-port';

export type Role = 'client' | 'provider' | 'admin';

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

export interface Latency {
  n: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
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
  const say = (msg: string) => deps.progress(`[announce] ${msg}`);
  const db = await deps.prepareDatabase(o.embedded);
  const port = await freePort();
  say(`starting server on :${port} (${db.kind})`);
  const t0 = Date.now();
  const server = await startAnnounceServer(o, deps, db.env, port);
  onServer(server);
  const startupMs = Date.now() - t0;
  const { pg, closePg } = await connectPg(db.env);
  const s = new AnnounceSession(o, say, server, pg, makeAnnounceUsers(o, deps.sign));
  const result = emptyResult(s, db.kind, startupMs);
  try {
    await createUsers(s, result);
    if (skippedForTooFewUsers(s, result)) return result;
    const users = s.who.users;
    const sample = sampleIndices(users.length, o.sample, o.seed).map((i) => users[i]);
    result.sample = sample.length;
    await beforeTheAnnouncement(s, sample, result);
    const sent = await sendAnnouncement(s, result);
    await readInboxes(s, sample, sent, result);
    await readAll(s, sample, result);
    await confirmRead(s, sample);
    return result;
  } finally {
    s.close();
    result.errors.count = s.errorCount;
    await closePg();
    say('stopping');
    result.server.warningCount = server.warningCount;
    const stopped = await server.stop();
    result.server.shutdownMs = stopped.ms;
    result.server.exitedGracefully = stopped.exitedGracefully;
    if (!pg && db.env.DATA_DIR && result.skipped === null && result.send.status === 202 && !isAborting()) {
      await countRowsAfterStop(db.env.DATA_DIR, s.who.admin.id, result.rows, say);
    }
    await db.drop();
  }
}

function startAnnounceServer(o: AnnounceOptions, deps: AnnounceDeps, dbEnv: Record<string, string>, port: number): Promise<ServerProc> {
  return startServerProcess({
    name: 'server (src/server.ts, announce)',
    entry: 'src/server.ts',
    env: { PORT: String(port), JWT_SECRET: deps.jwtSecret, LOG_LEVEL: 'warn', ...dbEnv },
    port,
    readyPath: '/readyz',
    nodeArgs: o.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(ROOT, 'bench', 'results', 'profiles', 'announce')}`] : [],
  });
}

/** The driver's own session on the phase's PostgreSQL database, closed by cleanup however the run ends; none on PGlite. */
async function connectPg(dbEnv: Record<string, string>): Promise<{ pg: Client | null; closePg: () => Promise<void> }> {
  if (!dbEnv.DATABASE_URL) return { pg: null, closePg: async () => {} };
  const c = new Client({ connectionString: dbEnv.DATABASE_URL, connectionTimeoutMillis: 5_000 });
  // DROP DATABASE ... WITH (FORCE) ends this session if it is still open; that is not an error.
  c.on('error', () => undefined);
  await c.connect();
  return { pg: c, closePg: onCleanup('close announce pg client', () => c.end().catch(() => undefined)) };
}

/** The result before anything is measured: what is known of the users and the server, nothing measured. */
function emptyResult(s: AnnounceSession, database: string, startupMs: number): AnnounceResult {
  return {
    database,
    skipped: null,
    startupMs,
    users: { requested: s.o.users, created: 0, via: s.pg ? 'sql-insert' : 'api-get-me', seconds: 0, perSec: 0, failures: {} },
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
    errors: { count: 0, first: s.errors },
    server: { startupWarnings: s.server.startupWarnings, warningCount: 0, warnings: s.server.warnings, shutdownMs: 0, exitedGracefully: true },
  };
}
