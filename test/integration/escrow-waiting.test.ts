import { describeDb } from '../support/test-db';
import { postCardDispute, useMarketplace } from '../support/marketplace';

/** Every state in which money waits on Paystack has something that moves it. */
describeDb('escrow: money that waits on Paystack is always moved', () => {
  // The periodic run is far away: each test runs the reconciler itself, as one interval would.
  const m = useMarketplace({ env: { RECONCILE_AFTER_MS: '0', RECONCILE_INTERVAL_MS: '3600000' }, auditLedger: true });
  const knex = () => m.srv.db.database.knex;
  const reconciler = () => m.srv.running.services.reconciler!;
  const paymentOf = (reference: string) => knex()('payments').where({ reference }).first();
  const confirmed = () => m.confirmedBookingWithPayment({ prefix: 'wait', amount: 45000 });

  async function paidAndCancelled() {
    const c = await confirmed();
    await m.paystack.completeCharge(c.reference);
    expect((await paymentOf(c.reference)).status).toBe('ESCROW');
    return c;
  }

  it('settles a paid charge whose webhook was lost within two runs, behind 10,000 abandoned checkouts', async () => {
    const c = await confirmed();
    // 10,000 checkouts nobody paid, older and so more overdue than the one that matters.
    await knex().raw(
      `WITH b AS (
         INSERT INTO bookings (client_id, provider_id, service, scheduled_for, amount, currency, status, created_at, updated_at)
         SELECT ?, ?, 'abandoned', now() + interval '1 day', 1000, 'ZAR', 'CONFIRMED', now() - interval '2 hours', now() - interval '2 hours'
         FROM generate_series(1, 10000)
         RETURNING id)
       INSERT INTO payments (booking_id, reference, status, amount, currency, email, created_at, updated_at)
       SELECT id, 'abandoned-' || id, 'PENDING', 1000, 'ZAR', 'a@example.co.za', now() - interval '2 hours', now() - interval '2 hours' FROM b`,
      [c.client.sub, c.provider.sub],
    );
    try {
      m.paystack.markPaid(c.reference);
      const t0 = Date.now();
      const first = await reconciler().runOnce(t0);
      const second = await reconciler().runOnce(t0);
      expect((await paymentOf(c.reference)).status).toBe('ESCROW');
      expect(first.checked + second.checked).toBeGreaterThanOrEqual(10_001);
      // Each abandoned checkout backed off after its check: at the same instant, none is due again.
      expect((await reconciler().runOnce(t0)).checked).toBe(0);
      const [{ n }] = await knex()('payments').where('reference', 'like', 'abandoned-%').where('check_attempts', 1).count({ n: '*' });
      expect(Number(n)).toBe(10_000);
    } finally {
      await knex()('payments').where('reference', 'like', 'abandoned-%').del();
      await knex()('bookings').where({ service: 'abandoned' }).del();
    }
  }, 120_000);

  it('backs off a row Paystack has nothing new about, doubling up to the cap', async () => {
    const c = await confirmed();
    const now = Date.now();
    await reconciler().runOnce(now);
    const after1 = await paymentOf(c.reference);
    expect(after1.check_attempts).toBe(1);
    await reconciler().runOnce(new Date(after1.next_check_at).getTime());
    const after2 = await paymentOf(c.reference);
    expect(after2.check_attempts).toBe(2);
    // RECONCILE_AFTER_MS is 0 here, so the base is the 1 s floor: 1 s, then 2 s.
    expect(new Date(after2.next_check_at).getTime() - new Date(after1.next_check_at).getTime()).toBeGreaterThanOrEqual(2_000);
    expect((await reconciler().runOnce(now)).checked).toBe(0);
  });

  it('expires a checkout nobody paid after CHECKOUT_EXPIRY_HOURS, after one last verify, and lets the client pay afresh', async () => {
    const c = await confirmed();
    const later = Date.now() + 25 * 3_600_000;
    await reconciler().runOnce(later);
    expect((await paymentOf(c.reference)).status).toBe('EXPIRED');
    expect(m.paystack.requests.filter((r) => r.path === `/transaction/verify/${c.reference}`).length).toBeGreaterThanOrEqual(1);
    const again = await c.client.post(`/api/bookings/${c.id}/payment`).expect(200);
    expect(again.body.reference).not.toBe(c.reference);
    await m.paystack.completeCharge(again.body.reference);
    expect((await paymentOf(again.body.reference)).status).toBe('ESCROW');
    // A late charge on the expired checkout is settled by nobody: it stays EXPIRED.
    const booking = await c.client.get(`/api/bookings/${c.id}`).expect(200);
    expect(booking.body.payment.status).toBe('ESCROW');
  });

  it('does not expire a checkout Paystack is still charging', async () => {
    const c = await confirmed();
    m.paystack.transaction(c.reference)!.status = 'ongoing';
    await reconciler().runOnce(Date.now() + 25 * 3_600_000);
    expect((await paymentOf(c.reference)).status).toBe('PENDING');
  });

  it('retries a refund whose request failed, once Paystack is back', async () => {
    const c = await paidAndCancelled();
    m.paystack.failNext('POST', '/refund', { status: 503, body: { status: false, message: 'Service unavailable' } });
    await c.client.post(`/api/bookings/${c.id}/cancel`).expect(200);
    expect(await paymentOf(c.reference)).toEqual(expect.objectContaining({ status: 'REFUND_PENDING', refund_failure: 'REFUND_REQUEST_FAILED' }));
    expect(m.paystack.refundsOf(c.reference)).toHaveLength(0);

    await reconciler().runOnce();
    expect(m.paystack.refundsOf(c.reference)).toHaveLength(1);
    expect((await paymentOf(c.reference)).refund_failure).toBeNull();
    // A second run sees the pending refund and asks for nothing more.
    await reconciler().runOnce();
    expect(m.paystack.refundsOf(c.reference)).toHaveLength(1);
    await m.paystack.processRefund(c.reference);
    expect((await paymentOf(c.reference)).status).toBe('REFUNDED');
  });

  it('settles a refund Paystack processed whose webhook was lost', async () => {
    const c = await paidAndCancelled();
    await c.client.post(`/api/bookings/${c.id}/cancel`).expect(200);
    const refund = m.paystack.refundsOf(c.reference)[0];
    refund.status = 'processed';
    await reconciler().runOnce();
    expect((await paymentOf(c.reference)).status).toBe('REFUNDED');
  });

  it('records refund.failed, then asks Paystack before requesting the refund again', async () => {
    const c = await paidAndCancelled();
    await c.client.post(`/api/bookings/${c.id}/cancel`).expect(200);
    // The operator is already signed up: shared notifications reach those who were there.
    const admin = m.user('refund-ops', 'admin');
    await admin.get('/api/me').expect(200);
    await m.paystack.failRefund(c.reference, 'failed');
    expect(await paymentOf(c.reference)).toEqual(expect.objectContaining({ status: 'REFUND_PENDING', refund_failure: 'REFUND_FAILED' }));
    expect((await admin.get('/api/notifications').expect(200)).body.notifications[0]).toEqual(
      expect.objectContaining({ type: 'ops.attention', title: 'Needs attention: refund failing' }),
    );
    await reconciler().runOnce();
    const refunds = m.paystack.refundsOf(c.reference);
    expect(refunds.map((r) => r.status)).toEqual(['failed', 'pending']);
    expect(m.paystack.requests.some((r) => r.method === 'GET' && r.path === '/refund')).toBe(true);
    await m.paystack.processRefund(c.reference);
    expect(await paymentOf(c.reference)).toEqual(expect.objectContaining({ status: 'REFUNDED', refund_failure: null }));
  });

  it('leaves a refund that needs attention to the operators instead of asking again', async () => {
    const c = await paidAndCancelled();
    await c.client.post(`/api/bookings/${c.id}/cancel`).expect(200);
    await m.paystack.failRefund(c.reference, 'needs-attention');
    await reconciler().runOnce();
    expect(m.paystack.refundsOf(c.reference).map((r) => r.status)).toEqual(['needs-attention']);
    expect((await paymentOf(c.reference)).refund_failure).toBe('REFUND_NEEDS_ATTENTION');
  });

  async function openCardDispute(reference: string, id: string) {
    await postCardDispute(m, 'charge.dispute.create', { id: 9100 + Number(id), reference, amount: m.paystack.transaction(reference)!.amount });
  }

  it('refuses to cancel (and so to refund) while a card dispute is open', async () => {
    const c = await paidAndCancelled();
    await openCardDispute(c.reference, c.id);
    const cancel = await c.client.post(`/api/bookings/${c.id}/cancel`);
    expect(cancel.status).toBe(409);
    expect(cancel.body.error.code).toBe('DISPUTE_OPEN');
    expect(m.paystack.refundsOf(c.reference)).toHaveLength(0);
    expect((await paymentOf(c.reference)).status).toBe('ESCROW');
  });

  it('does not claim, nor count as settled, a payout frozen by a card dispute', async () => {
    const c = await paidAndCancelled();
    await c.provider.post(`/api/bookings/${c.id}/start`).expect(200);
    await c.provider.post(`/api/bookings/${c.id}/complete`).expect(200);
    await openCardDispute(c.reference, c.id);
    await c.client.post(`/api/bookings/${c.id}/confirm-completion`).expect(200);
    const payout = await knex()('payouts').where({ booking_id: c.id }).first();
    expect(payout.status).toBe('PENDING');
    const counts = await reconciler().runOnce();
    expect(counts.settled).toBe(0);
    expect((await knex()('payouts').where({ id: payout.id }).first()).check_attempts).toBe(0);
    expect(
      m.paystack.requests.some((r) => r.method === 'POST' && r.path === '/transfer' && (r.body as { reference: string }).reference === payout.reference),
    ).toBe(false);
  });
});
