import { createTestDatabase, describeDb, type TestDatabase } from '../support/test-db';
import { baseEnv, killServer, startServerProcess, type ServerProcess } from '../support/server-process';
import { probe, PROBE_SPAWN } from './helpers/probe';
import { connectAndVanish, neverReaders, tightReconnects } from './helpers/hostile';
import { signIn } from './helpers/traffic';
import { api } from './helpers/http';
import { getJson } from './helpers/get-json';
import { tcpSocketsOf } from './helpers/sockets';
import { TEST_JWT_SECRET } from '../support/env';
import { freePort } from '../support/free-port';
import { cast, type Actor } from '../support/actors';
import { sleep } from '../support/sleep';

const LISTEN = '0A';

const MB = 1024 * 1024;

describeDb('clients that vanish, never read, or reconnect in a tight loop', () => {
  let db: TestDatabase | undefined;
  let srv: ServerProcess | undefined;

  afterAll(async () => {
    await killServer(srv);
    await db?.drop();
  });

  it("leave the server's heap, handles and stream counts where they were", async () => {
    db = await createTestDatabase();
    srv = await startServerProcess(
      { ...baseEnv(TEST_JWT_SECRET), DATABASE_URL: db.url!, PORT: String(await freePort()), STREAM_QUEUE_CAP_BYTES: '65536', STREAMS_PER_USER_MAX: '50' },
      PROBE_SPAWN,
    );
    const people = cast('h', { clients: 40, providers: 0, admins: 1 });
    const [admin] = people.admins;
    await signIn(srv.url, people.all);
    const tokens = people.clients.map((c) => c.token);

    const round = async (scale: number) => {
      const vanished = await connectAndVanish(srv!.port, tokens, 10 * scale);
      const slow = await neverReaders(srv!.port, tokens.slice(0, 20));
      const announcements = await flood(srv!.url, admin, slow.sockets.length);
      const loops = await tightReconnects(srv!.port, tokens.slice(20), 20 * scale);
      await sleep(200);
      slow.close();
      return { vanished, neverRead: slow.sockets.length, announcements, tightLoops: loops };
    };
    // Warm-up at the same size: JIT, pools, per-user caches and rate-limit entries reach their steady size.
    await round(1);
    await settled(srv.url);
    const baseline = await reading(srv, db.url!);

    const work = await round(2);
    const streams = await settled(srv.url);
    const after = await reading(srv, db.url!);
    const dropped = (await getJson(`${srv.url}/api/status`)).slowConsumersDropped;

    process.stdout.write(
      `[hostile-clients] ${JSON.stringify(work)} slowConsumersDropped=${dropped} ` +
        `heap ${(baseline.heapUsed / MB).toFixed(1)} -> ${(after.heapUsed / MB).toFixed(1)} MB, ` +
        `handles ${JSON.stringify(baseline.handles)} -> ${JSON.stringify(after.handles)}\n`,
    );
    expect(streams).toEqual({ open: 0, connectedUsers: 0 });
    expect([baseline.clientSockets, after.clientSockets]).toEqual([0, 0]);
    // The never-read clients were really cut off as slow consumers, not just closed by us.
    expect(dropped).toBeGreaterThan(0);
    expect(after.handles).toEqual(baseline.handles);
    // Over a thousand streams opened: one request object kept per stream would show, many times over.
    expect(after.heapUsed - baseline.heapUsed).toBeLessThan(2 * MB);
  }, 170_000);
});

/**
 * Large broadcasts until every never-reader has been dropped as a slow consumer (what fills first
 * is the kernel's socket buffers, then the server's queue up to STREAM_QUEUE_CAP_BYTES).
 */
async function flood(url: string, admin: Actor, neverReaders: number): Promise<number> {
  const body = 'x'.repeat(3_900);
  const dropped = async () => (await api(url, undefined, 'GET', '/api/status')).body.slowConsumersDropped as number;
  const target = (await dropped()) + neverReaders;
  // Four at a time: the log serializes the commits anyway, this only overlaps the HTTP.
  for (let i = 0; ; i += 4) {
    const replies = await Promise.all(
      [1, 2, 3, 4].map((k) => api(url, admin.token, 'POST', '/api/broadcasts', { title: `flood ${i + k}`, body, role: 'client' })),
    );
    const bad = replies.find((r) => r.status !== 202);
    if (bad) throw new Error(`broadcast: ${bad.status} ${JSON.stringify(bad.body)}`);
    if (i % 40 === 0 && (await dropped()) >= target) return i + 4;
    if (i >= 2_000) throw new Error(`never-readers not dropped after ${i} broadcasts (${await dropped()} of ${target})`);
  }
}

/** Waits for the server to report no open stream. */
async function settled(url: string): Promise<{ open: number; connectedUsers: number }> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const s = (await getJson(`${url}/api/status`)).streams;
    if ((s.open === 0 && s.connectedUsers === 0) || Date.now() > deadline) return { open: s.open, connectedUsers: s.connectedUsers };
    await sleep(100);
  }
}

/**
 * Heap after GC and active handles by type, once the server holds no client connection (ours
 * from fetch expire with its 5 s keep-alive). The database pool's sockets are taken out of the
 * TCP count: the pool grows and shrinks with load by design, a client's socket never should stay.
 */
async function reading(srv: ServerProcess, dbUrl: string) {
  const pid = srv.child.pid!;
  const dbPort = Number(new URL(dbUrl).port || 5432);
  const clientSockets = () => tcpSocketsOf(pid).filter((s) => s.localPort === srv.port && s.state !== LISTEN).length;
  const deadline = Date.now() + 15_000;
  while (clientSockets() > 0 && Date.now() < deadline) await sleep(200);
  const p = await probe(srv);
  const pool = tcpSocketsOf(pid).filter((s) => s.remotePort === dbPort).length;
  return { heapUsed: p.heapUsed, handles: { ...p.resources, TCPSocketWrap: (p.resources.TCPSocketWrap ?? 0) - pool }, clientSockets: clientSockets() };
}
