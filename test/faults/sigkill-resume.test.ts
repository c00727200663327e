import { createTestDatabase, describeDb, type TestDatabase } from '../support/test-db';
import { baseEnv, killServer, startServerProcess, type ServerProcess } from '../support/server-process';
import { ResumingClient } from './helpers/resuming-client';
import { catchUp, compare, expectedFor, lastEventId, readLedger } from './helpers/ledger';
import { signIn, startTraffic, type Traffic } from './helpers/traffic';
import { TEST_JWT_SECRET } from '../support/env';
import { freePort } from '../support/free-port';
import { cast } from '../support/actors';
import { sleep } from '../support/sleep';

const KILLS = 3;

describeDb('SIGKILL of the server process while streams are open and events are published', () => {
  let db: TestDatabase | undefined;
  let srv: ServerProcess | undefined;
  const clients: ResumingClient[] = [];
  let traffic: Traffic | undefined;

  afterAll(async () => {
    await traffic?.stop();
    clients.forEach((c) => c.close());
    await killServer(srv);
    await db?.drop();
  });

  it('every client resumes with Last-Event-ID and ends with exactly its committed events, in order', async () => {
    db = await createTestDatabase();
    const env = { ...baseEnv(TEST_JWT_SECRET), DATABASE_URL: db.url!, PORT: String(await freePort()) };
    srv = await startServerProcess(env);
    const url = srv.url;

    const people = cast('k', { clients: 5, providers: 3, admins: 2 });
    const [admin] = people.admins;
    await signIn(url, people.all);
    const baseline = await lastEventId(db.url!);
    // Everyone but one admin listens; each starts from the same known position in the log.
    const listeners = people.all.filter((a) => a !== people.admins[1]);
    for (const a of listeners) clients.push(new ResumingClient(() => url, a.sub, a.role, a.token, baseline));
    const deadline = Date.now() + 15_000;
    while (!clients.every((c) => c.isOpen)) {
      if (Date.now() > deadline) throw new Error('streams did not open');
      await sleep(50);
    }

    traffic = startTraffic({
      url: () => url,
      admin,
      clients: people.clients,
      providers: people.providers,
      strangers: ['k-nobody', people.admins[1].sub],
      broadcasters: 3,
      bookers: 2,
    });
    for (let k = 0; k < KILLS; k++) {
      await sleep(1_500 + Math.random() * 1_500);
      await killServer(srv, 'SIGKILL');
      await sleep(300);
      srv = await startServerProcess(env);
    }
    await sleep(2_000);
    await traffic.stop();

    const ledger = await readLedger(db.url!, baseline);
    const acknowledged = traffic.outcomes.filter((o) => o.eventId).map((o) => o.eventId!);
    const logged = new Set(ledger.map((e) => e.id));
    expect(acknowledged.filter((id) => !logged.has(id))).toEqual([]);
    const failed = traffic.outcomes.filter((o) => o.status === 0 || o.status >= 500).length;
    expect(acknowledged.length).toBeGreaterThan(30);

    await catchUp(clients, ledger, 20_000);
    let deliveries = 0;
    for (const c of clients) {
      const mine = expectedFor(ledger, c.sub, c.role as any);
      deliveries += c.received.length;
      expect({ who: c.sub, resets: c.resets.length, ...compare(mine, c.received) }).toEqual({
        who: c.sub,
        resets: 0,
        expected: mine.length,
        received: mine.length,
        lost: [],
        duplicated: [],
        misdelivered: [],
        outOfOrder: 0,
      });
      // Exactly the ledger's sequence, not just the same set.
      expect(c.received.map((d) => d.id)).toEqual(mine.map((e) => e.id));
      expect(c.opens).toBeGreaterThanOrEqual(KILLS + 1);
    }
    process.stdout.write(
      `[sigkill] kills=${KILLS} events=${ledger.length} acknowledged=${acknowledged.length} failedRequests=${failed} ` +
        `clients=${clients.length} deliveries=${deliveries}\n`,
    );
  }, 150_000);
});
