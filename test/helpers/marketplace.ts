import request from 'supertest';
import { FakePaystack } from '../fakes/fake-paystack';
import { startTestServer, type TestServer } from './test-server';
import type { Role } from '../../src/auth/principal';

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
  stop(): Promise<void>;
}

export interface ConfirmedBooking {
  client: Actor;
  provider: Actor;
  id: string;
  reference: string;
}

export interface Actor {
  sub: string;
  token: string;
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
  let n = 0;
  const market: Marketplace = {
    srv,
    paystack,
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
      const token = srv.running.deps.tokens.sign({ sub, role, ...extra }, 3600);
      const auth = (t: request.Test) => t.set('Authorization', `Bearer ${token}`);
      return {
        sub,
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

/** Within START_EARLY_MINUTES of now, so the provider may start the work at once. */
export const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

/**
 * Every cent accounted for: the ledger's checks pass and the double-entry journal agrees with
 * every payment's and payout's state. For an `afterEach` of suites that move money.
 */
export async function expectBooksBalanced(m: Marketplace): Promise<void> {
  const summary = (await m.user('books-auditor', 'admin').get('/api/ledger/summary').expect(200)).body;
  expect(summary.checks.filter((c: { ok: boolean }) => !c.ok)).toEqual([]);
  expect(summary.journal.mismatches).toEqual([]);
  expect(summary.balanced).toBe(true);
}
