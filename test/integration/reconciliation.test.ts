import { describeDb } from '../support/test-db';
import { useMarketplace } from '../support/marketplace';

describeDb('reconciliation: money that never gets stuck', () => {
  // Everything is stale at once; the periodic run is far away, each test runs a pass itself.
  const m = useMarketplace({ env: { RECONCILE_AFTER_MS: '0', RECONCILE_INTERVAL_MS: '3600000' }, auditLedger: true });
  const knex = () => m.srv.db.database.knex;
  const reconcile = () => m.srv.running.services.reconciler!.runOnce();
  const paymentOf = (reference: string) => knex()('payments').where({ reference }).first();

  const confirmed = () => m.confirmedBookingWithPayment({ prefix: 'rcl', amount: 30000 });

  async function releasedWithTimedOutTransfer() {
    const c = await confirmed();
    await m.paystack.completeCharge(c.reference);
    await c.provider.post(`/api/bookings/${c.id}/start`).expect(200);
    await c.provider.post(`/api/bookings/${c.id}/complete`).expect(200);
    m.paystack.failNext('POST', '/transfer', { delayMs: 3_000 });
    await c.client.post(`/api/bookings/${c.id}/confirm-completion`).expect(200);
    // The payout is in the provider's view of the booking only.
    expect((await c.provider.get(`/api/bookings/${c.id}`).expect(200)).body.payout.status).toBe('PROCESSING');
    return { ...c, payout: await knex()('payouts').where({ booking_id: c.id }).first() };
  }

  it('settles a charge whose webhook never came, and a late webhook afterwards is a no-op', async () => {
    const { reference } = await confirmed();
    m.paystack.markPaid(reference);
    await reconcile();
    expect((await paymentOf(reference)).status).toBe('ESCROW');
    const eventsBefore = await knex()('events').count<{ c: string }[]>('* as c');
    const late = await m.paystack.completeCharge(reference);
    expect(late.status).toBe(200);
    expect((await paymentOf(reference)).status).toBe('ESCROW');
    const statuses = await knex()('events')
      .where({ type: 'payment.status_changed' })
      .whereRaw(`payload->>'reference' = ?`, [reference])
      .select(knex().raw(`payload->>'status' as status`))
      .orderBy('id');
    expect(statuses.map((r: { status: string }) => r.status)).toEqual(['PENDING', 'PAID', 'ESCROW']);
    expect(await knex()('events').count<{ c: string }[]>('* as c')).toEqual(eventsBefore);
  });

  it('leaves an unpaid checkout alone', async () => {
    const { reference } = await confirmed();
    await reconcile();
    expect((await paymentOf(reference)).status).toBe('PENDING');
  });

  it('settles a transfer that timed out, by asking Paystack: success', async () => {
    const { payout } = await releasedWithTimedOutTransfer();
    // Paystack did queue it (the fake handled the request and then stalled its answer), and it succeeded.
    m.paystack.transfer(payout.reference)!.status = 'success';
    await reconcile();
    expect((await knex()('payouts').where({ id: payout.id }).first()).status).toBe('COMPLETED');
    const status = await m.srv.running.services.telemetry.counterValue(m.srv.running.services.telemetry.reconciled, { kind: 'payout' });
    expect(status).toBeGreaterThanOrEqual(1);
  });

  it('settles a transfer that timed out, by asking Paystack: failure', async () => {
    const { payout } = await releasedWithTimedOutTransfer();
    m.paystack.transfer(payout.reference)!.status = 'failed';
    await reconcile();
    expect(await knex()('payouts').where({ id: payout.id }).first()).toEqual(expect.objectContaining({ status: 'FAILED', reason: 'TRANSFER_FAILED' }));
    // A late transfer.failed webhook changes nothing more.
    const before = await knex()('events').count<{ c: string }[]>('* as c');
    await m.paystack.settleTransfer(payout.reference, 'failed');
    expect(await knex()('events').count<{ c: string }[]>('* as c')).toEqual(before);
  });

  it('leaves a transfer still pending at Paystack in PROCESSING', async () => {
    const { payout } = await releasedWithTimedOutTransfer();
    await reconcile();
    expect((await knex()('payouts').where({ id: payout.id }).first()).status).toBe('PROCESSING');
  });

  it('lets an admin retry a failed payout with a new reference, and only a failed or reversed one', async () => {
    const c = await confirmed();
    await m.paystack.completeCharge(c.reference);
    await c.provider.post(`/api/bookings/${c.id}/start`).expect(200);
    await c.provider.post(`/api/bookings/${c.id}/complete`).expect(200);
    await c.client.post(`/api/bookings/${c.id}/confirm-completion`).expect(200);
    const payout = await knex()('payouts').where({ booking_id: c.id }).first();
    const admin = m.user('treasurer', 'admin');

    const tooSoon = await admin.post(`/api/payouts/${payout.id}/retry`);
    expect(tooSoon.status).toBe(409);
    expect(tooSoon.body.error.details).toEqual({ currentStatus: 'PROCESSING' });
    expect((await c.provider.post(`/api/payouts/${payout.id}/retry`)).status).toBe(403);

    await m.paystack.settleTransfer(payout.reference, 'failed');
    const [r1, r2] = await Promise.all([admin.post(`/api/payouts/${payout.id}/retry`), admin.post(`/api/payouts/${payout.id}/retry`)]);
    expect([r1.status, r2.status].sort()).toEqual([200, 409]);
    const retried = await knex()('payouts').where({ id: payout.id }).first();
    expect(retried.reference).not.toBe(payout.reference);
    expect(retried.status).toBe('PROCESSING');
    // Exactly two transfers were ever sent for this payout: the first and the retry.
    const sent = m.paystack.requests.filter(
      (r) => r.method === 'POST' && r.path === '/transfer' && [payout.reference, retried.reference].includes((r.body as { reference: string }).reference),
    );
    expect(sent.length).toBe(2);
    // A late webhook for the old transfer does not touch the retried payout.
    await m.paystack.postWebhook('transfer.success', {
      reference: payout.reference,
      transfer_code: 'TRF_old',
      amount: 30000,
      currency: 'ZAR',
      status: 'success',
    });
    expect((await knex()('payouts').where({ id: payout.id }).first()).status).toBe('PROCESSING');
    await m.paystack.settleTransfer(retried.reference, 'success');
    expect((await knex()('payouts').where({ id: payout.id }).first()).status).toBe('COMPLETED');
    expect((await admin.post('/api/payouts/abc/retry')).status).toBe(404);
  });

  it('auto-releases escrow for a booking completed long ago and unconfirmed, and tells both sides', async () => {
    const c = await confirmed();
    await m.paystack.completeCharge(c.reference);
    await c.provider.post(`/api/bookings/${c.id}/start`).expect(200);
    await c.provider.post(`/api/bookings/${c.id}/complete`).expect(200);
    const bookings = m.srv.running.services.bookings;
    expect(await bookings.autoRelease(72, Date.now() + 71 * 3_600_000)).toBe(0);
    expect((await paymentOf(c.reference)).status).toBe('ESCROW');

    expect(await bookings.autoRelease(72, Date.now() + 73 * 3_600_000)).toBe(1);
    expect((await paymentOf(c.reference)).status).toBe('RELEASED');
    const payout = await knex()('payouts').where({ booking_id: c.id }).first();
    expect(payout.status).toBe('PROCESSING');
    // Once only.
    expect(await bookings.autoRelease(72, Date.now() + 73 * 3_600_000)).toBe(0);
    const clientInbox = (await c.client.get('/api/notifications').expect(200)).body.notifications;
    expect(clientInbox[0]).toEqual(expect.objectContaining({ type: 'booking.completion_confirmed', title: 'Payment released automatically' }));
    const providerInbox = (await c.provider.get('/api/notifications').expect(200)).body.notifications;
    expect(providerInbox.some((x: { type: string }) => x.type === 'booking.completion_confirmed')).toBe(true);
    // The client can no longer confirm: nothing is left in escrow.
    expect((await c.client.post(`/api/bookings/${c.id}/confirm-completion`)).status).toBe(409);
  });
});
