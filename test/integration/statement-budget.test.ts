import request from 'supertest';
import { describeDb } from '../support/test-db';
import { PAYSTACK_TEST_KEY, startMarketplace, type Marketplace } from '../support/marketplace';
import { signPaystackBody } from '../../fakes/fake-paystack';

/**
 * Round trips are most of what a publish and a webhook cost (each holds the append lock or waits
 * for it): these pin how many statements each sends, so a change that adds one (a helper that
 * reads again, a lock taken on its own) shows here rather than only in `npm run bench`.
 */
describeDb('statements per targeted publish and per webhook', () => {
  let m: Marketplace;
  beforeAll(async () => {
    // No background reads (the relay's fallback poll) may land among the counted statements.
    m = await startMarketplace({ RELAY_POLL_MS: '60000', DISPATCH_POLL_MS: '60000' });
  });
  afterAll(() => m.stop());

  /** The SQL statements the server sends while `fn` runs, BEGIN and COMMIT included. */
  async function statementsOf(fn: () => Promise<unknown>): Promise<string[]> {
    const sqls: string[] = [];
    const knex = m.srv.db.database.knex;
    const onQuery = (q: { sql: string }) => sqls.push(q.sql);
    knex.on('query', onQuery);
    try {
      await fn();
    } finally {
      knex.off('query', onQuery);
    }
    return sqls;
  }

  it('a broadcast to one user: BEGIN, its notification with the unread count, the events with the lock, COMMIT', async () => {
    const admin = m.user('budget-admin', 'admin');
    const target = m.user('budget-target', 'client');
    await target.get('/api/me').expect(200);
    await admin.get('/api/me').expect(200);
    const send = () => admin.post('/api/broadcasts', { title: 't', body: 'b', userIds: [target.sub] }).expect(202);
    await send();
    const sqls = await statementsOf(send);
    expect(sqls).toHaveLength(4);
    expect(sqls.filter((s) => /pg_advisory_xact_lock/.test(s))).toEqual([expect.stringMatching(/INSERT INTO events/)]);
  });

  it('a charge.success webhook answered after one statement and settled in eleven more; its redelivery in one', async () => {
    const b = await m.confirmedBookingWithPayment({ prefix: 'budget', amount: 5000 });
    const tx = m.paystack.markPaid(b.reference);
    const body = JSON.stringify({
      event: 'charge.success',
      data: { id: 900001, reference: b.reference, amount: tx.amount, currency: 'ZAR', status: 'success' },
    });
    const post = () =>
      request(m.srv.url)
        .post('/api/webhooks/paystack')
        .set('Content-Type', 'application/json')
        .set('x-paystack-signature', signPaystackBody(body, PAYSTACK_TEST_KEY))
        .send(body)
        .expect(200);
    const webhooks = m.srv.running.services.webhooks;
    let outcome: unknown;
    // The answer and the settling after it, kept apart by Paystack's verify call being held back.
    m.paystack.latencyMs = 300;
    const all = await statementsOf(async () => {
      // The answer waits for the delivery's insert only; settling has begun by then (its first read).
      const answered = await statementsOf(async () => (outcome = (await post()).body.outcome));
      expect(answered[0]).toMatch(/^insert into "webhook_deliveries"/);
      await webhooks.idle();
    });
    m.paystack.latencyMs = 0;
    expect(outcome).toBe('recorded');
    // After the delivery's insert: the payment lookup before verify, then one transaction (BEGIN,
    // the delivery's row lock, the payment with its booking, the payment's moves with the verified
    // charge, their journal entries, the delivery settled, the events, COMMIT). A charge settling
    // into escrow opens no operator case, so no attention query runs.
    expect(all.slice(1)).toHaveLength(11);
    expect(await statementsOf(async () => (outcome = (await post()).body.outcome))).toHaveLength(1);
    expect(outcome).toBe('duplicate');
  });
});
