import { createTestDatabase, describeDb, type TestDatabase } from '../support/test-db';
import { baseEnv, killServer, startServerProcess, withTimeout, type ServerProcess } from '../support/server-process';
import { ResumingClient } from './helpers/resuming-client';
import { catchUp, checkClients, lastEventId, readLedger } from './helpers/ledger';
import { loggedTitles } from './helpers/consistency';
import { heldPost } from '../support/held-request';
import { signIn, startTraffic, type Traffic } from './helpers/traffic';
import { TEST_JWT_SECRET } from '../support/env';
import { freePort } from '../support/free-port';
import { cast } from '../support/actors';
import { inAnHour } from '../support/booking-time';
import { sleep } from '../support/sleep';

describeDb('SIGTERM while under load', () => {
  let db: TestDatabase | undefined;
  let srv: ServerProcess | undefined;
  const clients: ResumingClient[] = [];
  const held: Array<ReturnType<typeof heldPost>> = [];
  let traffic: Traffic | undefined;

  afterAll(async () => {
    await traffic?.stop();
    held.forEach((h) => h.destroy());
    clients.forEach((c) => c.close());
    await killServer(srv);
    await db?.drop();
  });

  it('finishes in-flight requests, loses no event, and exits 0 within 10 s', async () => {
    db = await createTestDatabase();
    const env = { ...baseEnv(TEST_JWT_SECRET), DATABASE_URL: db.url!, PORT: String(await freePort()), SHUTDOWN_TIMEOUT_MS: '10000' };
    srv = await startServerProcess(env);
    const url = srv.url;
    const people = cast('t', { clients: 6, providers: 3, admins: 1 });
    const [admin] = people.admins;
    await signIn(url, people.all);
    const baseline = await lastEventId(db.url!);
    for (const a of people.all) clients.push(new ResumingClient(() => url, a.sub, a.role, a.token, baseline));

    traffic = startTraffic({ url: () => url, admin, clients: people.clients, providers: people.providers, broadcasters: 4, bookers: 4, pauseMs: 0 });
    await sleep(2_000);
    // Requests provably inside the server, unfinished, when the signal comes.
    for (let i = 0; i < 6; i++) held.push(heldPost(srv.port, admin.token, '/api/broadcasts', { title: `held ${i}`, body: 'across SIGTERM', all: true }));
    for (let i = 0; i < 4; i++) {
      const c = people.clients[i];
      held.push(
        heldPost(srv.port, c.token, '/api/bookings', { providerId: people.providers[i % 3].sub, service: 'held', scheduledFor: inAnHour(), amount: 10_000 }),
      );
    }
    await withTimeout(Promise.all(held.map((h) => h.continued)), 10_000, '100 Continue on every held request');

    const signalled = Date.now();
    srv.child.kill('SIGTERM');
    // Slow clients: their bodies arrive well into the drain.
    await sleep(1_500);
    held.forEach((h) => h.sendBody());
    const answers = await withTimeout(Promise.all(held.map((h) => h.response)), 9_000, 'the held responses');
    const exit = await withTimeout(srv.exited, 12_000, 'the process to exit');
    const exitMs = Date.now() - signalled;
    await traffic.stop();

    expect(answers.map((a) => a.status)).toEqual([...Array(6).fill(202), ...Array(4).fill(201)]);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(exitMs).toBeLessThan(10_000);
    expect(srv.logs.some((l) => l.code === 'SHUTDOWN_TIMEOUT')).toBe(false);

    // Nothing acknowledged is missing: held ones and everything the load got a 2xx for.
    const titles = await loggedTitles(db.url!);
    expect(answers.slice(0, 6).map((_, i) => titles.get(`held ${i}`))).toEqual(Array(6).fill(1));
    const ledger = await readLedger(db.url!, baseline);
    const logged = new Set(ledger.map((e) => e.id));
    const acknowledged = traffic.outcomes.filter((o) => o.eventId).map((o) => o.eventId!);
    expect(acknowledged.filter((id) => !logged.has(id))).toEqual([]);

    // The next process takes over; every client resumes and ends with exactly its events.
    srv = await startServerProcess(env);
    await catchUp(clients, ledger, 20_000);
    const checked = checkClients(clients, ledger);
    expect(checked.problems).toEqual([]);
    const { deliveries } = checked;
    const refused = traffic.outcomes.filter((o) => o.status === 0 || o.status >= 500).length;
    process.stdout.write(
      `[sigterm] exit ${exitMs} ms after SIGTERM; held=${held.length} all answered; requests=${traffic.outcomes.length} ` +
        `refusedOrReset=${refused}; events=${ledger.length} deliveries=${deliveries}\n`,
    );
  }, 120_000);
});
