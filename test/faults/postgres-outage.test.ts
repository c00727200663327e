import { PrivatePostgres, privatePostgresSkipReason } from './helpers/private-postgres';
import { baseEnv, killServer, startServerProcess, type ServerProcess } from '../support/server-process';
import { ResumingClient } from './helpers/resuming-client';
import { catchUp, checkClients, lastEventId, readLedger } from './helpers/ledger';
import { bookingLogMismatches, loggedTitles } from './helpers/consistency';
import { signIn, startTraffic, type Traffic } from './helpers/traffic';
import { api } from './helpers/http';
import { TEST_JWT_SECRET } from '../support/env';
import { freePort } from '../support/free-port';
import { describeIfAvailable } from '../support/skip';
import { actor, cast, type Actor } from '../support/actors';
import { sleep } from '../support/sleep';

const DB = 'rt_faults';

describeIfAvailable(privatePostgresSkipReason())('a private PostgreSQL restarted and its connections terminated mid-traffic', () => {
  let pg: PrivatePostgres | undefined;
  let srv: ServerProcess | undefined;
  const clients: ResumingClient[] = [];
  let traffic: Traffic | undefined;

  afterAll(async () => {
    await traffic?.stop();
    clients.forEach((c) => c.close());
    await killServer(srv);
    pg?.destroy();
  });

  it('answers 503 DATABASE_UNAVAILABLE while it is down, reports it on /readyz, writes nothing by halves, and recovers by itself with no event lost', async () => {
    pg = await PrivatePostgres.create();
    await pg.query(`CREATE DATABASE ${DB}`);
    const dbUrl = pg.url(DB);
    srv = await startServerProcess({ ...baseEnv(TEST_JWT_SECRET), DATABASE_URL: dbUrl, PORT: String(await freePort()), RELAY_POLL_MS: '250' });
    const url = srv.url;
    const pid = srv.child.pid;

    const people = cast('o', { clients: 4, providers: 2, admins: 1 });
    const [admin] = people.admins;
    await signIn(url, people.all);
    const baseline = await lastEventId(dbUrl);
    for (const a of people.all) clients.push(new ResumingClient(() => url, a.sub, a.role, a.token, baseline));
    traffic = startTraffic({ url: () => url, admin, clients: people.clients, providers: people.providers, broadcasters: 2, bookers: 2 });
    const faults: string[] = [];

    // Connections cut under the server's feet, twice.
    for (let i = 0; i < 2; i++) {
      await sleep(1_500);
      faults.push(`terminated ${await pg.terminateConnections(DB)} connections`);
    }
    await sleep(1_500);

    // The server goes away entirely.
    await pg.stop();
    faults.push('stopped PostgreSQL');
    const down = await probeWhileDown(url, admin, people.clients[0]);
    expect(down.map(({ what, status, code }) => ({ what, status, code }))).toEqual(
      down.map(({ what }) => ({ what, status: 503, code: 'DATABASE_UNAVAILABLE' })),
    );
    // Quickly, not after a connection timeout.
    expect(Math.max(...down.map((d) => d.ms))).toBeLessThan(5_000);
    const status = await api(url, undefined, 'GET', '/api/status');
    expect(status).toEqual(
      expect.objectContaining({ status: 200, body: expect.objectContaining({ status: 'degraded', database: expect.objectContaining({ reachable: false }) }) }),
    );
    // Half the clients lose their streams while it is down and keep trying to resume.
    clients.filter((_, i) => i % 2 === 0).forEach((c) => c.drop(50));
    faults.push(`dropped ${Math.ceil(clients.length / 2)} streams while down`);
    await sleep(2_000);

    await pg.start();
    faults.push('started PostgreSQL again');
    // Recovery needs nobody: no restart of the server, no request to wake it.
    const back = Date.now();
    while ((await api(url, undefined, 'GET', '/readyz')).status !== 200) {
      if (Date.now() - back > 15_000) throw new Error('/readyz did not recover within 15 s');
      await sleep(200);
    }
    const okBefore = traffic.outcomes.filter((o) => o.status >= 200 && o.status < 300).length;
    await sleep(2_500);
    await traffic.stop();
    expect(traffic.outcomes.filter((o) => o.status >= 200 && o.status < 300).length).toBeGreaterThan(okBefore + 5);
    expect(srv.isRunning()).toBe(true);
    expect(srv.child.pid).toBe(pid);
    // The server itself never mistook the outage for a bug of its own.
    expect(srv.logs.filter((l) => l.code === 'INTERNAL' || l.level >= 60).map((l) => l.msg)).toEqual([]);
    expect(srv.stderr()).toBe('');

    // Every refusal said DATABASE_UNAVAILABLE (or lost its connection): no 500s, no other code.
    const errors = traffic.outcomes.filter((o) => o.status >= 500);
    expect(errors.filter((o) => o.status !== 503)).toEqual([]);
    // What was acknowledged is in the log once; what was refused is not in it at all.
    const titles = await loggedTitles(dbUrl);
    const broadcasts = traffic.outcomes.filter((o) => o.kind === 'broadcast');
    expect(broadcasts.filter((o) => o.status === 202 && titles.get(o.title!) !== 1)).toEqual([]);
    expect(broadcasts.filter((o) => o.status === 503 && titles.has(o.title!))).toEqual([]);
    expect(await bookingLogMismatches(dbUrl)).toEqual([]);
    // A refused request retried with its Idempotency-Key, now that the database is back, runs: a
    // claim its handler could not release during the outage is released in the background once
    // the database answers again (until then the retry is told IDEMPOTENCY_KEY_IN_USE).
    const refused = broadcasts.filter((o) => o.status === 503);
    let inUseAnswers = 0;
    const retried = await Promise.all(
      refused.map(async (o) => {
        const deadline = Date.now() + 45_000;
        for (;;) {
          const r = await o.retry!();
          if (r.status !== 409 || r.body?.error?.code !== 'IDEMPOTENCY_KEY_IN_USE' || Date.now() > deadline) return { title: o.title, ...r };
          inUseAnswers++;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }),
    );
    expect(retried.filter((r) => r.status !== 202).map((r) => ({ title: r.title, status: r.status, code: r.body?.error?.code }))).toEqual([]);
    faults.push(`retried ${refused.length} refused broadcasts with their Idempotency-Key (${inUseAnswers} IN_USE answers while keys were being released)`);

    const ledger = await readLedger(dbUrl, baseline);
    await catchUp(clients, ledger, 20_000);
    const checked = checkClients(clients, ledger);
    expect(checked.problems).toEqual([]);
    const { deliveries } = checked;
    const codes: Record<string, number> = {};
    for (const l of srv.logs) if (l.level >= 40) codes[`${l.code ?? l.msg}`] = (codes[`${l.code ?? l.msg}`] ?? 0) + 1;
    process.stdout.write(`[postgres-outage] server warnings and errors by code: ${JSON.stringify(codes)}\n`);
    process.stdout.write(
      `[postgres-outage] faults: ${faults.join('; ')}; events=${ledger.length} requests=${traffic.outcomes.length} ` +
        `refused503=${errors.length} deliveries=${deliveries}; while down: ${down.map((d) => `${d.what} ${d.ms}ms`).join(', ')}\n`,
    );
  }, 150_000);
});

/** What a client sees while the database is gone: every route that needs it refuses, quickly. */
async function probeWhileDown(url: string, admin: Actor, client: Actor) {
  const probes: Array<[string, string | undefined, string, string, unknown?]> = [
    ['readyz', undefined, 'GET', '/readyz'],
    ['broadcast', admin.token, 'POST', '/api/broadcasts', { title: 'while down', body: 'must not commit', all: true }],
    ['bookings', client.token, 'GET', '/api/bookings'],
    ['poll', client.token, 'GET', '/api/events?after=0'],
    ['ticket', client.token, 'POST', '/api/events/tickets'],
    // A user the server has not seen yet must be written first. (A known user's fresh stream
    // needs no database and opens live, which is fine: it gets what commits after recovery.)
    ['stream', actor('o-newcomer', 'client').token, 'GET', '/api/events/stream'],
    // A known user resuming needs the log: a 503 too, not a stream that opens and closes at once.
    ['stream resume', client.token, 'GET', '/api/events/stream?lastEventId=1'],
  ];
  const out: Array<{ what: string; status: number; code: unknown; ms: number }> = [];
  for (const [what, token, method, path, body] of probes) {
    const t = Date.now();
    const r = await api(url, token, method, path, body);
    out.push({ what, status: r.status, code: r.body?.error?.code, ms: Date.now() - t });
  }
  return out;
}
