import request from 'supertest';
import { describeDb, TEST_DB } from '../support/test-db';
import { PAYSTACK_TEST_KEY, startMarketplace, type Marketplace } from '../support/marketplace';
import { signPaystackBody } from '../../fakes/fake-paystack';
import { inAnHour } from '../support/booking-time';

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

  const settling = () => m.srv.running.services.webhooks.settling;
  const lockWaiters = async () => {
    const [row] = await knex()('pg_stat_activity')
      .where({ datname: knex().raw('current_database()'), wait_event_type: 'Lock' })
      .count<{ c: string }[]>('* as c');
    return Number(row.c);
  };
  const chargeSuccess = (b: { id: string; reference: string }, idBase: number) => {
    const tx = m.paystack.markPaid(b.reference);
    const body = JSON.stringify({
      event: 'charge.success',
      data: { id: idBase + Number(b.id), reference: b.reference, amount: tx.amount, currency: 'ZAR', status: 'success' },
    });
    return { body, signature: signPaystackBody(body, PAYSTACK_TEST_KEY) };
  };
  const statusTrail = async (reference: string) =>
    (
      await knex()('events')
        .where({ type: 'payment.status_changed' })
        .whereRaw(`payload->>'reference' = ?`, [reference])
        .select(knex().raw(`payload->>'status' as status`))
        .orderBy('id')
    ).map((r: { status: string }) => r.status);
  /**
   * On PostgreSQL: holds every booking's row lock while `send` posts, until the first delivery
   * waits on a lock and the rest wait for its batch, so they are settled as one batch after it.
   */
  const together = async <T>(bookingIds: string[], send: () => T): Promise<T> => {
    if (TEST_DB !== 'postgres') return send();
    const holder = await knex().transaction();
    await holder('bookings').whereIn('id', bookingIds).forUpdate();
    const sent = send();
    await waitUntil(async () => (await lockWaiters()) >= 1 && settling().queued >= bookingIds.length - 1);
    await holder.commit();
    return sent;
  };

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
    const b = await client.post('/api/bookings', { providerId: provider.sub, service: 's', scheduledFor: inAnHour(), amount: 1000 }).expect(201);
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
    const statuses = await knex()('events')
      .where({ type: 'payment.status_changed' })
      .whereRaw(`payload->>'reference' = ?`, [reference])
      .select(knex().raw(`payload->>'status' as status`))
      .orderBy('id');
    expect(statuses.map((r: { status: string }) => r.status)).toEqual(['PENDING', 'PAID', 'ESCROW']);
  });

  it('flags a charge whose verified amount differs from ours, and nothing reaches escrow', async () => {
    const { reference } = await confirmedBookingWithPayment();
    const res = await m.paystack.completeCharge(reference, { amount: 100 });
    expect(res.status).toBe(200);
    expect((await knex()('payments').where({ reference }).first()).status).toBe('FLAGGED');
    expect(m.srv.logs.some((l) => l.code === 'PAYMENT_AMOUNT_MISMATCH')).toBe(true);
  });

  it('fails a charge.success whose verify says the charge failed, so the client can pay afresh; one still under way stays PENDING', async () => {
    const failed = await confirmedBookingWithPayment();
    expect((await m.paystack.completeCharge(failed.reference, { status: 'failed' })).status).toBe(200);
    expect((await knex()('payments').where({ reference: failed.reference }).first()).status).toBe('FAILED');
    expect(m.srv.logs.some((l) => l.code === 'CHARGE_NOT_SUCCESSFUL')).toBe(true);
    const again = await failed.client.post(`/api/bookings/${failed.id}/payment`).expect(200);
    expect(again.body.reference).not.toBe(failed.reference);

    const ongoing = await confirmedBookingWithPayment();
    expect((await m.paystack.completeCharge(ongoing.reference, { status: 'ongoing' })).status).toBe(200);
    expect((await knex()('payments').where({ reference: ongoing.reference }).first()).status).toBe('PENDING');
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
    await client.post(`/api/bookings/${id}/confirm-completion`).expect(200);
    // The payout is in the provider's view of the booking only.
    expect((await provider.get(`/api/bookings/${id}`).expect(200)).body.payout.status).toBe('COMPLETED');
    m.paystack.onTransferInitiated(undefined);
  });

  it('keeps a payout PROCESSING when the transfer call times out (unknown outcome), until the webhook settles it', async () => {
    const { client, provider, id, reference } = await confirmedBookingWithPayment();
    await m.paystack.completeCharge(reference);
    await provider.post(`/api/bookings/${id}/start`).expect(200);
    await provider.post(`/api/bookings/${id}/complete`).expect(200);
    m.paystack.failNext('POST', '/transfer', { delayMs: 3_000 });
    await client.post(`/api/bookings/${id}/confirm-completion`).expect(200);
    expect((await provider.get(`/api/bookings/${id}`).expect(200)).body.payout.status).toBe('PROCESSING');
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
    await m.settled();
    expect(await count('webhook_deliveries')).toBe(before + 10 + 450);
    for (const b of bookings) {
      expect((await knex()('payments').where({ reference: b.reference }).first()).status).toBe('ESCROW');
      const n = await knex()('events')
        .where({ type: 'payment.status_changed' })
        .whereRaw(`payload->>'reference' = ?`, [b.reference])
        .count<{ c: string }[]>('* as c');
      expect(Number(n[0].c)).toBe(3);
    }
  });

  it('applies first deliveries of one charge that race each other once: one recorded, the rest duplicates, one delivery row', async () => {
    const { id, reference } = await confirmedBookingWithPayment();
    const tx = m.paystack.markPaid(reference);
    const body = JSON.stringify({
      event: 'charge.success',
      data: { id: 810000 + Number(id), reference, amount: tx.amount, currency: 'ZAR', status: 'success' },
    });
    const signature = signPaystackBody(body, PAYSTACK_TEST_KEY);
    // The unique key decides at the insert: one delivery is recorded, the others find it.
    const answers = await Promise.all(Array.from({ length: 3 }, () => post(body, signature).then((r) => r)));
    expect(answers.map((r) => `${r.status} ${r.body.outcome}`).sort()).toEqual(['200 duplicate', '200 duplicate', '200 recorded']);
    await m.settled();
    expect(await knex()('webhook_deliveries').whereRaw(`payload->'data'->>'reference' = ?`, [reference]).select('outcome')).toEqual([{ outcome: 'processed' }]);
    expect(await statusTrail(reference)).toEqual(['PENDING', 'PAID', 'ESCROW']);
  });

  it('settles deliveries that arrive together in one transaction: each payment once, each caller its own answer', async () => {
    const bookings = [];
    for (let i = 0; i < 8; i++) bookings.push(await confirmedBookingWithPayment());
    const charges = bookings.map((b) => chargeSuccess(b, 830000));
    const before = settling();
    const answers = await together(
      bookings.map((b) => b.id),
      () => Promise.all(charges.map((c) => post(c.body, c.signature))),
    );
    expect(answers.map((r) => `${r.status} ${r.body.outcome}`)).toEqual(charges.map(() => '200 recorded'));
    await m.settled();
    for (const b of bookings) expect(await statusTrail(b.reference)).toEqual(['PENDING', 'PAID', 'ESCROW']);
    const after = settling();
    // Operators see the same numbers on /api/status.
    expect((await request(m.srv.url).get('/api/status').expect(200)).body.webhookSettling).toEqual(after);
    expect(after.deliveries - before.deliveries).toBe(8);
    expect(after.retriedAlone).toBe(before.retriedAlone);
    // The first alone (it met the held lock), the other seven together.
    if (TEST_DB === 'postgres') expect(after.batches - before.batches).toBe(2);
    // A redelivery of any of them is a duplicate, with no effect.
    const again = await post(charges[3].body, charges[3].signature).expect(200);
    expect(again.body.outcome).toBe('duplicate');
    expect(await statusTrail(bookings[3].reference)).toEqual(['PENDING', 'PAID', 'ESCROW']);
  });

  it('a delivery that fails inside a batch fails alone: the others are settled, it changes nothing and is settled by a later sweep', async () => {
    const bookings = [];
    for (let i = 0; i < 5; i++) bookings.push(await confirmedBookingWithPayment());
    const poisoned = bookings[2];
    // A real database error for one payment only, raised by PostgreSQL itself.
    await knex().raw(`
      CREATE FUNCTION refuse_poisoned_payment() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.reference = '${poisoned.reference}' THEN RAISE EXCEPTION 'poisoned payment'; END IF;
        RETURN NEW;
      END $$`);
    await knex().raw(`CREATE TRIGGER refuse_poisoned BEFORE UPDATE ON payments FOR EACH ROW EXECUTE FUNCTION refuse_poisoned_payment()`);
    try {
      const charges = bookings.map((b) => chargeSuccess(b, 840000));
      const before = settling();
      const answers = await together(
        bookings.map((b) => b.id),
        () => Promise.all(charges.map((c) => post(c.body, c.signature))),
      );
      // Recorded before anything is settled, so the failure is not the caller's.
      expect(answers.map((r) => `${r.status} ${r.body.outcome}`)).toEqual(charges.map(() => '200 recorded'));
      await m.srv.running.services.webhooks.idle();
      for (const [i, b] of bookings.entries()) {
        expect(await statusTrail(b.reference)).toEqual(i === 2 ? ['PENDING'] : ['PENDING', 'PAID', 'ESCROW']);
      }
      // Still recorded, not settled: a later attempt will take it.
      expect(await knex()('webhook_deliveries').whereRaw(`payload->'data'->>'reference' = ?`, [poisoned.reference]).select('outcome', 'settled_at')).toEqual([
        { outcome: 'recorded', settled_at: null },
      ]);
      expect(m.srv.logs.some((l) => l.code === 'WEBHOOK_SETTLE_DEFERRED')).toBe(true);
      if (TEST_DB === 'postgres') {
        expect(settling().retriedAlone - before.retriedAlone).toBe(1);
        expect(m.srv.logs.some((l) => l.code === 'WEBHOOK_BATCH_RETRIED')).toBe(true);
      }
    } finally {
      await knex().raw('DROP TRIGGER refuse_poisoned ON payments');
      await knex().raw('DROP FUNCTION refuse_poisoned_payment()');
    }
    const c = chargeSuccess(poisoned, 840000);
    expect((await post(c.body, c.signature).expect(200)).body.outcome).toBe('duplicate');
    // Its next attempt falls due (WEBHOOK_RETRY_MS later), and a sweep settles it.
    await knex()('webhook_deliveries').whereRaw(`payload->'data'->>'reference' = ?`, [poisoned.reference]).update({ next_attempt_at: knex().fn.now() });
    expect(await m.srv.running.services.webhooks.sweep()).toBe(1);
    await m.settled();
    expect(await statusTrail(poisoned.reference)).toEqual(['PENDING', 'PAID', 'ESCROW']);
  });
});
