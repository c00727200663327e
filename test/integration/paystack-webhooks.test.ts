import request from 'supertest';
import { describeDb, TEST_DB } from '../helpers/test-db';
import { inADay, PAYSTACK_TEST_KEY, startMarketplace, type Marketplace } from '../helpers/marketplace';
import { signPaystackBody } from '../../src/payments/webhook-signature';

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describeDb('Paystack webhooks: signatures, duplicates, order and amounts', () => {
  let m: Marketplace;
  let n = 0;
  beforeAll(async () => {
    m = await startMarketplace();
  });
  afterAll(() => m.stop());

  const knex = () => m.srv.db.database.knex;
  const count = async (table: string) => Number((await knex()(table).count<{ c: string }[]>('* as c'))[0].c);
  const snapshot = async () => ({
    events: await count('events'),
    deliveries: await count('webhook_deliveries'),
    payments: await knex()('payments').select('id', 'status').orderBy('id'),
    payouts: await knex()('payouts').select('id', 'status').orderBy('id'),
  });

  const confirmedBookingWithPayment = () => m.confirmedBookingWithPayment({ prefix: 'wh', amount: 42000 });

  const post = (raw: string, signature?: string) => {
    const r = request(m.srv.url).post('/api/webhooks/paystack').set('Content-Type', 'application/json');
    if (signature !== undefined) r.set('x-paystack-signature', signature);
    return r.send(raw);
  };

  it('needs an email to pay (token or body), and only the booking’s client may pay', async () => {
    n++;
    const client = m.user(`noemail-${n}`, 'client');
    const provider = m.user(`noemail-p${n}`, 'provider');
    await provider.get('/api/me').expect(200);
    const b = await client.post('/api/bookings', { providerId: provider.sub, service: 's', scheduledFor: inADay(), amount: 1000 }).expect(201);
    const early = await client.post(`/api/bookings/${b.body.id}/payment`);
    expect(early.status).toBe(409);
    await provider.post(`/api/bookings/${b.body.id}/accept`).expect(200);
    const none = await client.post(`/api/bookings/${b.body.id}/payment`);
    expect(none.status).toBe(400);
    expect(none.body.error.code).toBe('EMAIL_REQUIRED');
    expect(await count('payments')).toBe((await snapshot()).payments.length);
    expect((await provider.post(`/api/bookings/${b.body.id}/payment`)).status).toBe(403);
    expect((await m.user('stranger-pay', 'client').post(`/api/bookings/${b.body.id}/payment`)).status).toBe(404);
    const withBody = await client.post(`/api/bookings/${b.body.id}/payment`, { email: 'pay@example.co.za' }).expect(200);
    expect(m.paystack.transaction(withBody.body.reference)).toEqual(expect.objectContaining({ email: 'pay@example.co.za', amount: 1000 }));
    expect((await client.post(`/api/bookings/${b.body.id}/payment`, { email: 'not-an-email' })).status).toBe(400);
  });

  it('returns the same pending payment when payment is started twice', async () => {
    const { client, id, reference } = await confirmedBookingWithPayment();
    const again = await client.post(`/api/bookings/${id}/payment`).expect(200);
    expect(again.body.reference).toBe(reference);
    expect(again.body.authorizationUrl).toEqual(expect.stringContaining('http'));
  });

  it('refuses a missing or wrong signature with 401 and stores nothing', async () => {
    const { reference } = await confirmedBookingWithPayment();
    const body = JSON.stringify({ event: 'charge.success', data: { id: 1, reference, amount: 42000, currency: 'ZAR', status: 'success' } });
    const before = await snapshot();
    for (const sig of [undefined, '', 'abc', signPaystackBody(body, 'sk_test_wrong_key_000000000'), signPaystackBody(body + ' ', PAYSTACK_TEST_KEY)]) {
      const res = await post(body, sig);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('WEBHOOK_SIGNATURE_INVALID');
    }
    expect(await snapshot()).toEqual(before);
  });

  it('answers a validly signed body that is not JSON with 400, and one over the size limit with 413', async () => {
    const bad = '{"event": "charge.success", ';
    const res = await post(bad, signPaystackBody(bad, PAYSTACK_TEST_KEY));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('INVALID_JSON');
    const huge = JSON.stringify({ event: 'charge.success', data: { pad: 'x'.repeat(400 * 1024) } });
    const big = await post(huge, signPaystackBody(huge, PAYSTACK_TEST_KEY));
    expect(big.status).toBe(413);
  });

  it('applies a duplicated charge.success once: one set of events, one escrow', async () => {
    const { reference } = await confirmedBookingWithPayment();
    const first = await m.paystack.completeCharge(reference);
    expect(first.status).toBe(200);
    const after = await snapshot();
    for (let i = 0; i < 3; i++) {
      const dup = await m.paystack.resendLastWebhook();
      expect(dup.status).toBe(200);
    }
    expect(await snapshot()).toEqual(after);
    const payment = await knex()('payments').where({ reference }).first();
    expect(payment.status).toBe('ESCROW');
    const statuses = await knex()('events').where({ type: 'payment.status_changed' }).whereRaw(`payload->>'reference' = ?`, [reference]).select(knex().raw(`payload->>'status' as status`)).orderBy('id');
    expect(statuses.map((r: { status: string }) => r.status)).toEqual(['PENDING', 'PAID', 'ESCROW']);
  });

  it('flags a charge whose verified amount differs from ours, and nothing reaches escrow', async () => {
    const { reference } = await confirmedBookingWithPayment();
    const res = await m.paystack.completeCharge(reference, { amount: 100 });
    expect(res.status).toBe(200);
    expect((await knex()('payments').where({ reference }).first()).status).toBe('FLAGGED');
    expect(m.srv.logs.some((l) => l.code === 'PAYMENT_AMOUNT_MISMATCH')).toBe(true);
  });

  it('refunds a charge that lands after the booking was cancelled', async () => {
    const { client, id, reference } = await confirmedBookingWithPayment();
    await client.post(`/api/bookings/${id}/cancel`, { reason: 'changed my mind' }).expect(200);
    await m.paystack.completeCharge(reference);
    expect((await knex()('payments').where({ reference }).first()).status).toBe('REFUND_PENDING');
    expect(m.paystack.requests.some((r) => r.method === 'POST' && r.path === '/refund')).toBe(true);
    await m.paystack.processRefund(reference);
    expect((await knex()('payments').where({ reference }).first()).status).toBe('REFUNDED');
  });

  it('ends in the right state when transfer.success arrives before our transfer call returns', async () => {
    const { client, provider, id, reference } = await confirmedBookingWithPayment();
    await m.paystack.completeCharge(reference);
    await provider.post(`/api/bookings/${id}/start`).expect(200);
    await provider.post(`/api/bookings/${id}/complete`).expect(200);
    // Paystack settles the transfer (and sends its webhook) while our initiate call is still waiting.
    m.paystack.onTransferInitiated(async (ref) => {
      await m.paystack.settleTransfer(ref, 'success');
    });
    const res = await client.post(`/api/bookings/${id}/confirm-completion`).expect(200);
    expect(res.body.payout.status).toBe('COMPLETED');
    m.paystack.onTransferInitiated(undefined);
  });

  it('keeps a payout PROCESSING when the transfer call times out (unknown outcome), until the webhook settles it', async () => {
    const { client, provider, id, reference } = await confirmedBookingWithPayment();
    await m.paystack.completeCharge(reference);
    await provider.post(`/api/bookings/${id}/start`).expect(200);
    await provider.post(`/api/bookings/${id}/complete`).expect(200);
    m.paystack.failNext('POST', '/transfer', { delayMs: 3_000 });
    const res = await client.post(`/api/bookings/${id}/confirm-completion`).expect(200);
    expect(res.body.payout.status).toBe('PROCESSING');
    const payout = await knex()('payouts').where({ booking_id: id }).first();
    await m.paystack.settleTransfer(payout.reference, 'reversed');
    expect((await knex()('payouts').where({ id: payout.id }).first()).status).toBe('REVERSED');
  });

  it('records unknown events and unknown references with a 200, changing nothing else', async () => {
    const before = await snapshot();
    const r1 = await m.paystack.postWebhook('subscription.create', { id: 5 });
    const r2 = await m.paystack.postWebhook('charge.success', { id: 999001, reference: 'not-ours', amount: 1, currency: 'ZAR', status: 'success' });
    expect([r1.status, r2.status]).toEqual([200, 200]);
    const after = await snapshot();
    expect(after.deliveries).toBe(before.deliveries + 2);
    expect({ ...after, deliveries: 0 }).toEqual({ ...before, deliveries: 0 });
  });

  it('refunds an escrowed payment when its booking is cancelled, and settles on refund.processed', async () => {
    const { provider, id, reference } = await confirmedBookingWithPayment();
    await m.paystack.completeCharge(reference);
    const cancelled = await provider.post(`/api/bookings/${id}/cancel`, { reason: 'sick' }).expect(200);
    expect(cancelled.body).toEqual(expect.objectContaining({ status: 'CANCELLED', reason: 'sick' }));
    expect(cancelled.body.payment.status).toBe('REFUND_PENDING');
    expect(m.paystack.refundsOf(reference).length).toBe(1);
    await m.paystack.processRefund(reference);
    expect((await knex()('payments').where({ reference }).first()).status).toBe('REFUNDED');
  });

  it('processes a burst of 500 deliveries (duplicates and strangers among them) with nothing lost and one effect each', async () => {
    const bookings = [];
    for (let i = 0; i < 10; i++) bookings.push(await confirmedBookingWithPayment());
    const bodies: string[] = [];
    for (const b of bookings) {
      const tx = m.paystack.markPaid(b.reference);
      const body = JSON.stringify({
        event: 'charge.success',
        data: { id: 700000 + bookings.indexOf(b), reference: b.reference, amount: tx.amount, currency: 'ZAR', status: 'success' },
      });
      for (let k = 0; k < 5; k++) bodies.push(body);
    }
    for (let i = bodies.length; i < 500; i++) bodies.push(JSON.stringify({ event: 'customeridentification.success', data: { id: i } }));
    const before = await count('webhook_deliveries');
    const statuses: number[] = [];
    for (let i = 0; i < bodies.length; i += 25) {
      const chunk = bodies.slice(i, i + 25);
      statuses.push(...(await Promise.all(chunk.map((b) => post(b, signPaystackBody(b, PAYSTACK_TEST_KEY))))).map((r) => r.status));
    }
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(await count('webhook_deliveries')).toBe(before + 10 + 450);
    for (const b of bookings) {
      expect((await knex()('payments').where({ reference: b.reference }).first()).status).toBe('ESCROW');
      const n = await knex()('events').where({ type: 'payment.status_changed' }).whereRaw(`payload->>'reference' = ?`, [b.reference]).count<{ c: string }[]>('* as c');
      expect(Number(n[0].c)).toBe(3);
    }
  });

  it('applies first deliveries of one charge that race each other once: one processed, the rest duplicates, one delivery row', async () => {
    const { id, reference } = await confirmedBookingWithPayment();
    const tx = m.paystack.markPaid(reference);
    const body = JSON.stringify({ event: 'charge.success', data: { id: 810000 + Number(id), reference, amount: tx.amount, currency: 'ZAR', status: 'success' } });
    const signature = signPaystackBody(body, PAYSTACK_TEST_KEY);
    // On PostgreSQL the booking's row lock is held meanwhile, so every delivery is past the early
    // duplicate check and waits inside its transaction: the race is decided by the delivery row.
    const holder = TEST_DB === 'postgres' ? await knex().transaction() : undefined;
    await holder?.('bookings').where({ id }).forUpdate().first();
    const answers = Array.from({ length: 3 }, () => post(body, signature).then((r) => r));
    if (holder) {
      await waitUntil(async () => {
        const [row] = await knex()('pg_stat_activity').where({ datname: knex().raw('current_database()'), wait_event_type: 'Lock' }).count<{ c: string }[]>('* as c');
        return Number(row.c) >= 3;
      });
      await holder.commit();
    }
    const outcomes = (await Promise.all(answers)).map((r) => `${r.status} ${r.body.outcome}`).sort();
    expect(outcomes).toEqual(['200 duplicate', '200 duplicate', '200 processed']);
    expect(await knex()('webhook_deliveries').whereRaw(`payload->'data'->>'reference' = ?`, [reference]).select('outcome')).toEqual([{ outcome: 'processed' }]);
    const statuses = await knex()('events').where({ type: 'payment.status_changed' }).whereRaw(`payload->>'reference' = ?`, [reference]).select(knex().raw(`payload->>'status' as status`)).orderBy('id');
    expect(statuses.map((r: { status: string }) => r.status)).toEqual(['PENDING', 'PAID', 'ESCROW']);
  });
});
