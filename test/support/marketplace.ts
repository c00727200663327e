import request from 'supertest';
import { FakePaystack } from '../../fakes/fake-paystack';
import { startTestServer, type TestServer } from './test-server';
import type { Role } from '../../src/contract/vocabulary';
import { dedupeKey } from '../../src/payments/webhook-service';
import { inAnHour } from './booking-time';
import type { Actor as SignedInUser } from './actors';

export const PAYSTACK_TEST_KEY = 'sk_test_marketplace_suite_key_0123456789';

export interface Marketplace {
  srv: TestServer;
  paystack: FakePaystack;
  /** A signed-in user: their token and an authorized supertest agent. */
  user(sub: string, role: Role, extra?: { name?: string; email?: string }): Actor;
  /**
   * A new client (with an email) and provider (with a payout account), a booking the provider
   * has accepted, and the client's pending Paystack checkout for it.
   */
  confirmedBookingWithPayment(o: { prefix: string; amount: number; service?: string }): Promise<ConfirmedBooking>;
  /**
   * Waits until the deliveries with these dedupe keys (all deliveries, without keys) are settled
   * in webhook_deliveries and nothing is being settled (follow-up Paystack calls included): the
   * webhook route answers before it settles. The fake Paystack's webhook methods wait for their
   * own delivery this way before they return.
   */
  settled(keys?: string[]): Promise<void>;
  stop(): Promise<void>;
}

export interface ConfirmedBooking {
  client: Actor;
  provider: Actor;
  id: string;
  reference: string;
}

/** A signed-in user with a supertest agent that sends their token. */
export interface Actor extends SignedInUser {
  get(path: string): request.Test;
  post(path: string, body?: object): request.Test;
  put(path: string, body?: object): request.Test;
}

/** The real server wired to a local fake Paystack that posts signed webhooks back to it. */
export async function startMarketplace(env: Record<string, string> = {}): Promise<Marketplace> {
  const paystack = new FakePaystack({ secretKey: PAYSTACK_TEST_KEY });
  const { url } = await paystack.start();
  const srv = await startTestServer({
    PAYSTACK_BASE_URL: url,
    PAYSTACK_SECRET_KEY: PAYSTACK_TEST_KEY,
    PAYSTACK_TIMEOUT_MS: '1500',
    ...env,
  });
  paystack.setWebhookTarget(`${srv.url}/api/webhooks/paystack`);
  paystack.afterWebhook = async ({ rawBody, response }) => {
    if (response.status !== 200) return;
    await market.settled([dedupeKey(JSON.parse(rawBody), Buffer.from(rawBody))]);
  };
  let n = 0;
  const market: Marketplace = {
    srv,
    paystack,
    async settled(keys) {
      const knex = srv.db.database.knex;
      const until = Date.now() + 20_000;
      for (;;) {
        await srv.running.services.webhooks.idle();
        const q = knex('webhook_deliveries').whereNull('settled_at');
        if (keys) q.whereIn('dedupe_key', keys);
        const [{ c }] = await q.count<{ c: string }[]>('* as c');
        if (Number(c) === 0 && srv.running.services.webhooks.settling.inFlight === 0) return;
        if (Date.now() > until) throw new Error(`${c} webhook deliveries still unsettled after 20 s`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async confirmedBookingWithPayment({ prefix, amount, service = 's' }) {
      n++;
      const client = market.user(`${prefix}-c${n}`, 'client', { email: `${prefix}${n}@example.co.za` });
      const provider = market.user(`${prefix}-p${n}`, 'provider');
      await provider.get('/api/me').expect(200);
      await provider.put('/api/me/payout-account', { accountName: 'A B', accountNumber: '1234567890', bankCode: '470010' }).expect(200);
      const b = await client.post('/api/bookings', { providerId: provider.sub, service, scheduledFor: inAnHour(), amount }).expect(201);
      await provider.post(`/api/bookings/${b.body.id}/accept`).expect(200);
      const pay = await client.post(`/api/bookings/${b.body.id}/payment`).expect(200);
      return { client, provider, id: b.body.id as string, reference: pay.body.reference as string };
    },
    user(sub, role, extra = {}) {
      const token = srv.running.services.tokens.sign({ sub, role, ...extra }, 3600);
      const auth = (t: request.Test) => t.set('Authorization', `Bearer ${token}`);
      return {
        sub,
        role,
        token,
        get: (path) => auth(request(srv.url).get(path)),
        post: (path, body) => (body === undefined ? auth(request(srv.url).post(path)) : auth(request(srv.url).post(path)).send(body)),
        put: (path, body) => auth(request(srv.url).put(path)).send(body ?? {}),
      };
    },
    stop: async () => {
      await srv.stop();
      await paystack.stop();
    },
  };
  return market;
}

/**
 * The marketplace of one describe block: started before its tests and stopped after them. With
 * `auditLedger`, for suites that move money, every test ends by checking that every cent is
 * accounted for, whatever the test did to it. `env` given as a function is read as the server
 * starts, after the block's earlier beforeAll hooks: settings that name what those started.
 */
export function useMarketplace(o: { env?: Record<string, string> | (() => Record<string, string>); auditLedger?: boolean } = {}): Marketplace {
  let started: Marketplace | undefined;
  const current = (): Marketplace => {
    if (!started) throw new Error('the marketplace starts in beforeAll: use it in a hook or a test');
    return started;
  };
  beforeAll(async () => {
    started = await startMarketplace(typeof o.env === 'function' ? o.env() : o.env);
  });
  afterAll(async () => {
    await started?.stop();
  });
  if (o.auditLedger) {
    afterEach(async () => {
      if (started) await expectBooksBalanced(started);
    });
  }
  return {
    get srv() {
      return current().srv;
    },
    get paystack() {
      return current().paystack;
    },
    user: (...args) => current().user(...args),
    confirmedBookingWithPayment: (args) => current().confirmedBookingWithPayment(args),
    settled: (keys) => current().settled(keys),
    stop: () => current().stop(),
  };
}

/** The ledger's checks pass and the double-entry journal agrees with every payment's and payout's state. */
async function expectBooksBalanced(m: Marketplace): Promise<void> {
  const summary = (await m.user('books-auditor', 'admin').get('/api/ledger/summary').expect(200)).body;
  expect(summary.checks.filter((c: { ok: boolean }) => !c.ok)).toEqual([]);
  expect(summary.journal.mismatches).toEqual([]);
  expect(summary.balanced).toBe(true);
}

/**
 * A signed card-dispute webhook (`charge.dispute.create` or `.resolve`) about the charge
 * `reference` of `amount` cents, in Paystack's shape: the dispute's own `id`, the charge under
 * `transaction`, `refund_amount` the whole charge unless `extra` says otherwise.
 */
export function postCardDispute(m: Marketplace, event: string, dispute: { id: number; reference: string; amount: number }, extra: object = {}) {
  return m.paystack.postWebhook(event, {
    id: dispute.id,
    refund_amount: dispute.amount,
    currency: 'ZAR',
    status: event === 'charge.dispute.create' ? 'awaiting-merchant-feedback' : 'resolved',
    resolution: null,
    domain: 'test',
    category: 'chargeback',
    transaction: { id: 896467688, reference: dispute.reference, amount: dispute.amount, status: 'success' },
    transaction_reference: null,
    ...extra,
  });
}
