import { createTestDatabase, describeDb, type TestDatabase } from '../support/test-db';
import { IS_CI, TEST_JWT_SECRET } from '../support/env';
import { FakePaystack } from '../../fakes/fake-paystack';
import { baseEnv, killServer, startServerProcess, type ServerProcess } from '../support/server-process';
import { ResumingClient } from './helpers/resuming-client';
import { catchUp, compare, expectedFor, lastEventId, readLedger } from './helpers/ledger';
import { bookingLogMismatches } from './helpers/consistency';
import { MarketplaceFlows } from './helpers/marketplace-flows';
import { signIn } from './helpers/traffic';
import { api, pick } from './helpers/http';
import { webhookSettledWaiter } from './helpers/webhook-settled';
import { freePort } from '../support/free-port';
import { cast } from '../support/actors';
import { sleep } from '../support/sleep';

/** Bounded: two minutes in CI, half a minute on a workstation; SOAK_SECONDS for longer. */
const SOAK_SECONDS = Number(process.env.SOAK_SECONDS || (IS_CI ? 120 : 30));
const PAYSTACK_KEY = 'sk_test_fault_suite_soak_key_0123456789';

describeDb(`soak: ${SOAK_SECONDS} s of booking flows, webhooks and clients dropping`, () => {
  let db: TestDatabase | undefined;
  let srv: ServerProcess | undefined;
  let paystack: FakePaystack | undefined;
  let flows: MarketplaceFlows | undefined;
  const clients: ResumingClient[] = [];
  let settled: ReturnType<typeof webhookSettledWaiter> | undefined;

  afterAll(async () => {
    await flows?.stop().catch(() => undefined);
    clients.forEach((c) => c.close());
    await killServer(srv);
    await paystack?.stop();
    await settled?.close();
    await db?.drop();
  });

  it(
    'a ledger computed from the database equals what each client received',
    async () => {
      db = await createTestDatabase();
      paystack = new FakePaystack({ secretKey: PAYSTACK_KEY });
      const { url: paystackUrl } = await paystack.start();
      // A server process (the fake Paystack stays here: it is HTTP both ways, webhooks included).
      srv = await startServerProcess({
        ...baseEnv(TEST_JWT_SECRET),
        DATABASE_URL: db.url!,
        PORT: String(await freePort()),
        PAYSTACK_BASE_URL: paystackUrl,
        PAYSTACK_SECRET_KEY: PAYSTACK_KEY,
        PAYSTACK_TIMEOUT_MS: '5000',
        LOG_LEVEL: 'warn',
      });
      paystack.setWebhookTarget(`${srv.url}/api/webhooks/paystack`);
      settled = webhookSettledWaiter(db.url!);
      paystack.afterWebhook = settled.wait;
      const url = srv.url;

      const people = cast('s', { clients: 200, providers: 60, admins: 2 });
      await signIn(url, people.all);
      for (const p of people.providers) {
        const r = await api(url, p.token, 'PUT', '/api/me/payout-account', { accountName: 'A B', accountNumber: '1234567890', bankCode: '470010' });
        if (r.status !== 200) throw new Error(`payout account for ${p.sub}: ${r.status} ${JSON.stringify(r.body)}`);
      }
      const baseline = await lastEventId(db.url!);
      for (const a of people.all) clients.push(new ResumingClient(() => url, a.sub, a.role, a.token, baseline, 100));

      flows = new MarketplaceFlows(url, paystack, people.clients, people.providers, 10);
      let drops = 0;
      let announcements = 0;
      const until = Date.now() + SOAK_SECONDS * 1_000;
      while (Date.now() < until) {
        await sleep(100);
        // Clients drop and come back, mostly at once, sometimes seconds later.
        pick(clients).drop(Math.random() < 0.8 ? Math.random() * 500 : 2_000 + Math.random() * 3_000);
        drops++;
        if (Math.random() < 0.05) {
          const r = await api(url, people.admins[0].token, 'POST', '/api/broadcasts', {
            title: `soak ${announcements}`,
            body: 'to a role',
            role: pick(['client', 'provider', 'admin'] as const),
          });
          if (r.status === 202) announcements++;
        }
      }
      await flows.stop();
      const stats = flows.stats;

      const ledger = await readLedger(db.url!, baseline);
      await catchUp(clients, ledger, 30_000);
      let deliveries = 0;
      const totals = { lost: 0, duplicated: 0, misdelivered: 0 };
      const problems: unknown[] = [];
      for (const c of clients) {
        const mine = expectedFor(ledger, c.sub, c.role as any);
        const r = compare(mine, c.received);
        deliveries += c.received.length;
        totals.lost += r.lost.length;
        totals.duplicated += r.duplicated.length;
        totals.misdelivered += r.misdelivered.length;
        if (r.lost.length || r.misdelivered.length || r.duplicated.length || r.outOfOrder || c.resets.length) {
          problems.push({
            who: c.sub,
            lost: r.lost.slice(0, 5),
            misdelivered: r.misdelivered.slice(0, 5),
            duplicated: r.duplicated.slice(0, 5),
            outOfOrder: r.outOfOrder,
            resets: c.resets.length,
          });
        }
      }
      const admin = people.admins[0];
      const summary = await api(url, admin.token, 'GET', '/api/ledger/summary');
      const faults = drops + stats.duplicateWebhooks + stats.staleWebhooks + stats.failedTransfers;
      process.stdout.write(
        `[soak] ${SOAK_SECONDS}s users=${people.all.length} events checked=${ledger.length} deliveries=${deliveries} ` +
          `faults injected=${faults} (stream drops=${drops}, duplicate webhooks=${stats.duplicateWebhooks}, out-of-order webhooks=${stats.staleWebhooks}, ` +
          `failed transfers=${stats.failedTransfers}) flows=${stats.flows} webhooks=${stats.webhooks} refunds=${stats.refunds} ` +
          `announcements=${announcements}; lost=${totals.lost} duplicated=${totals.duplicated} misdelivered=${totals.misdelivered} ` +
          `journal=${summary.body.journal?.balanced ? 'balanced' : 'NOT balanced'}\n`,
      );

      expect(problems).toEqual([]);
      expect(stats.unexpected).toEqual([]);
      expect(Object.keys(stats.webhookStatuses)).toEqual(['200']);
      // The journal agrees with every payment's and payout's state after all of it.
      expect(summary.body.journal.mismatches).toEqual([]);
      expect(summary.body).toEqual(expect.objectContaining({ balanced: true }));
      expect(await bookingLogMismatches(db.url!)).toEqual([]);
      expect(stats.flows).toBeGreaterThan(SOAK_SECONDS);
    },
    (SOAK_SECONDS + 150) * 1_000,
  );
});
