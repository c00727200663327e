import { Client } from 'pg';
import { createTestDatabase, describeSharedDb, type TestDatabase } from '../support/test-db';
import { TEST_DATABASE_URL, TEST_JWT_SECRET } from '../support/env';
import { openStream, type TestStream } from '../support/sse-client';
import { spawnServer, waitReady, type ServerProcess } from '../support/server-process';
import { createTokenService } from '../../src/auth/jwt';
import { COMMIT_CHANNEL, listenerApplicationName } from '../../src/events/commit-listener';
import { freePort } from '../support/free-port';

const tokens = createTokenService(TEST_JWT_SECRET);

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describeSharedDb('two server processes on one PostgreSQL (LISTEN/NOTIFY between processes)', () => {
  let testDb: TestDatabase;
  let dbName: string;
  let a: ServerProcess;
  let b: ServerProcess;
  let pg: Client;
  const streams: TestStream[] = [];
  const admin = tokens.sign({ sub: 'ops', role: 'admin' }, 600);

  /** The backend pids of `srv`'s LISTEN connection(s), from pg_stat_activity. */
  async function listenerBackends(srv: ServerProcess): Promise<Array<{ pid: number; query: string }>> {
    const { rows } = await pg.query('SELECT pid, query FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 ORDER BY backend_start', [
      dbName,
      listenerApplicationName(srv.child.pid),
    ]);
    return rows;
  }

  async function post(srv: ServerProcess, pathname: string, token: string, body: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${srv.url}${pathname}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  }

  /** A targeted announcement published through A's route; its event id. */
  async function announceOnA(userIds: string[], n: number): Promise<string> {
    const r = await post(a, '/api/broadcasts', admin, { title: `t${n}`, body: `announcement ${n}`, userIds });
    expect(r).toEqual({ status: 202, body: { eventId: expect.stringMatching(/^[1-9]\d*$/) } });
    return r.body.eventId;
  }

  /** What the log holds for a stream of (`sub`, `role`) above `after`, in id order: what B must deliver. */
  async function logFor(sub: string, role: string, after: string): Promise<string[]> {
    const rows: Array<{ id: string }> = await testDb.database
      .knex('events')
      .select('id')
      .whereRaw('audience && ?::text[]', [[`user:${sub}`, `role:${role}`, 'all']])
      .andWhere('id', '>', after)
      .orderBy('id');
    return rows.map((r) => String(r.id));
  }

  beforeAll(async () => {
    testDb = await createTestDatabase();
    dbName = new URL(testDb.url!).pathname.slice(1);
    pg = new Client({ connectionString: TEST_DATABASE_URL });
    await pg.connect();
    const env = async (id: string): Promise<Record<string, string>> => ({
      NODE_ENV: 'test',
      PORT: String(await freePort()),
      DATABASE_URL: testDb.url!,
      JWT_SECRET: TEST_JWT_SECRET,
      INSTANCE_ID: id,
      LOG_LEVEL: 'info',
      // A minute between fallback polls of the log: whatever arrives sooner was woken by NOTIFY
      // (or by the listener's reconnect).
      RELAY_POLL_MS: '60000',
      STREAM_RETRY_MS: '100',
      AUTH_FAILURE_LIMIT_PER_5MIN: '1000000',
    });
    // A first, alone: it runs the migrations; then B on the migrated database.
    a = spawnServer(await env('mp-a'), { name: 'A' });
    await waitReady(a, 60_000);
    b = spawnServer(await env('mp-b'), { name: 'B' });
    await waitReady(b, 60_000);
  }, 150_000);

  afterAll(async () => {
    streams.forEach((s) => s.close());
    for (const srv of [a, b]) {
      if (srv?.isRunning()) {
        srv.child.kill('SIGKILL');
        await srv.exited;
      }
    }
    await pg?.end().catch(() => undefined);
    await testDb?.drop();
  });

  it('runs two processes on different ports, each with its own LISTEN connection', async () => {
    expect(a.child.pid).not.toBe(b.child.pid);
    expect(a.url).not.toBe(b.url);
    const [statusA, statusB] = await Promise.all([a, b].map((s) => fetch(`${s.url}/api/status`).then((r) => r.json())));
    expect([statusA.instanceId, statusB.instanceId]).toEqual(['mp-a', 'mp-b']);
    for (const srv of [a, b]) {
      const backends = await until(async () => ((await listenerBackends(srv)).length ? listenerBackends(srv) : undefined), 10_000, `${srv.name}'s listener`);
      expect(backends).toEqual([{ pid: expect.any(Number), query: `LISTEN ${COMMIT_CHANNEL}` }]);
    }
  });

  it('a user streaming from B receives, in order, what routes on A published; also after B’s LISTEN backend is killed', async () => {
    const startId = (await fetch(`${b.url}/api/status`).then((r) => r.json())).events.lastEventId ?? '0';
    const stream = await openStream(b.url, { token: tokens.sign({ sub: 'roamer', role: 'client' }, 600) });
    streams.push(stream);
    // A bystander on B: must receive none of roamer's events.
    const other = await openStream(b.url, { token: tokens.sign({ sub: 'bystander', role: 'client' }, 600) });
    streams.push(other);

    // 1. One at a time: ids in publishing order.
    const sequential: string[] = [];
    for (let i = 0; i < 10; i++) sequential.push(await announceOnA(['roamer'], i));
    // 2. Concurrently: committed in some order; B delivers them in id order.
    const concurrent = await Promise.all(Array.from({ length: 10 }, (_, i) => announceOnA(['roamer'], 100 + i)));
    // 3. A booking moved by its parties' routes on A: the client streams from B.
    const provider = tokens.sign({ sub: 'prov', role: 'provider' }, 600);
    const client = tokens.sign({ sub: 'roamer', role: 'client' }, 600);
    expect((await fetch(`${a.url}/api/me`, { headers: { Authorization: `Bearer ${provider}` } })).status).toBe(200);
    const booking = await post(a, '/api/bookings', client, {
      providerId: 'prov',
      service: 'plumbing',
      scheduledFor: new Date(Date.now() + 86_400_000).toISOString(),
      amount: 25_000,
    });
    expect(booking.status).toBe(201);
    expect((await post(a, `/api/bookings/${booking.body.id}/accept`, provider, {})).status).toBe(200);

    const phase1 = await logFor('roamer', 'client', startId);
    expect(phase1).toEqual(expect.arrayContaining([...sequential, ...concurrent]));
    // Well within B's 60 s fallback poll: NOTIFY woke B.
    await stream.waitFor((s) => s.ids.length >= phase1.length, 10_000, `B to deliver ${phase1.length} events`);
    expect(stream.ids).toEqual(phase1);
    // Strictly ascending ids (what "in order" means across concurrent commits), each once.
    expect(stream.ids.map(BigInt)).toEqual([...stream.ids.map(BigInt)].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
    expect(new Set(stream.ids).size).toBe(stream.ids.length);
    const types = stream.events.map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['announcement', 'booking.created', 'booking.accepted']));
    expect(stream.events.find((e) => e.type === 'booking.accepted')!.data.data).toEqual(
      expect.objectContaining({ booking: expect.objectContaining({ id: booking.body.id, status: 'CONFIRMED' }) }),
    );

    // Kill B's listening connection from outside, as a failover or an idle-connection reaper would.
    const [before] = await listenerBackends(b);
    const [aListener] = await listenerBackends(a);
    const { rows } = await pg.query('SELECT pg_terminate_backend($1) AS ok', [before.pid]);
    expect(rows[0].ok).toBe(true);
    // Published at once, while B may still be without a listener.
    const afterKill: string[] = [];
    for (let i = 0; i < 5; i++) afterKill.push(await announceOnA(['roamer'], 200 + i));
    const phase2 = await logFor('roamer', 'client', startId);
    // Each targeted announcement to a user who exists also commits their `notification.created`.
    expect(phase2.slice(0, phase1.length)).toEqual(phase1);
    expect(phase2.slice(phase1.length)).toEqual(expect.arrayContaining(afterKill));
    await stream.waitFor((s) => s.ids.length >= phase2.length, 10_000, 'the events published after the kill');
    expect(stream.ids).toEqual(phase2);

    // B listens again on a new backend; A's was untouched.
    const [again] = await until(
      async () => {
        const rows = await listenerBackends(b);
        return rows.length === 1 && rows[0].pid !== before.pid ? rows : undefined;
      },
      10_000,
      'B to LISTEN again',
    );
    expect(again).toEqual({ pid: expect.any(Number), query: `LISTEN ${COMMIT_CHANNEL}` });
    expect(await listenerBackends(a)).toEqual([aListener]);
    expect(b.logs.some((l) => l.code === 'COMMIT_LISTENER_ERROR')).toBe(true);

    // And the new connection carries NOTIFY: more events, promptly, in order.
    const later: string[] = [];
    for (let i = 0; i < 5; i++) later.push(await announceOnA(['roamer'], 300 + i));
    const phase3 = await logFor('roamer', 'client', startId);
    expect(phase3.slice(0, phase2.length)).toEqual(phase2);
    expect(phase3.slice(phase2.length)).toEqual(expect.arrayContaining(later));
    await stream.waitFor((s) => s.ids.length >= phase3.length, 10_000, 'the events published after B listened again');
    expect(stream.ids).toEqual(phase3);

    // No misdelivery, no reconnect of the stream, nothing went wrong in either process.
    expect(other.events).toEqual([]);
    expect(stream.errors).toEqual([]);
    expect(a.logs.filter((l) => l.level >= 50)).toEqual([]);
    expect(b.logs.filter((l) => l.level >= 50)).toEqual([]);
    expect([a.isRunning(), b.isRunning()]).toEqual([true, true]);
  }, 90_000);
});
