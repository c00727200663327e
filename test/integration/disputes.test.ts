import { describeDb } from '../support/test-db';
import { postCardDispute, useMarketplace } from '../support/marketplace';
import { openStream, type TestStream } from '../support/sse-client';

describeDb('card disputes freeze the payout', () => {
  const m = useMarketplace({ auditLedger: true });
  let n = 0;
  const streams: TestStream[] = [];
  afterEach(() => streams.splice(0).forEach((s) => s.close()));
  const knex = () => m.srv.db.database.knex;

  /** A paid, completed booking; the client has not confirmed yet. */
  async function completed() {
    n++; // each test's dispute has its own Paystack id
    const c = await m.confirmedBookingWithPayment({ prefix: 'dsp', amount: 250000, service: 'roofing' });
    await m.paystack.completeCharge(c.reference);
    await c.provider.post(`/api/bookings/${c.id}/start`).expect(200);
    await c.provider.post(`/api/bookings/${c.id}/complete`).expect(200);
    return c;
  }

  const dispute = (event: string, reference: string, extra: object = {}) => postCardDispute(m, event, { id: 358950 + n, reference, amount: 250000 }, extra);

  it('freezes the payout, tells the client, the provider and admins, and releases it when the merchant wins', async () => {
    const c = await completed();
    const admin = await openStream(m.srv.url, { token: m.user('ops-admin', 'admin').token });
    streams.push(admin);
    expect((await dispute('charge.dispute.create', c.reference)).status).toBe(200);
    await admin.waitFor((s) => s.events.some((e) => e.type === 'payment.dispute_opened'), 5_000, 'admin told');
    expect((await c.client.get('/api/notifications')).body.notifications[0].title).toBe('Your card dispute is open');
    expect((await c.provider.get('/api/notifications')).body.notifications[0].title).toBe('A payment is disputed');

    // Confirming releases escrow, but no transfer starts while the dispute is open.
    await c.client.post(`/api/bookings/${c.id}/confirm-completion`).expect(200);
    // The payout is in the provider's view of the booking only.
    expect((await c.provider.get(`/api/bookings/${c.id}`).expect(200)).body.payout.status).toBe('PENDING');
    const payout = await knex()('payouts').where({ booking_id: c.id }).first();
    expect(m.paystack.transfer(payout.reference)).toBeUndefined();
    // Auto-release and reconciliation leave it alone too.
    await m.srv.running.services.reconciler!.runOnce();
    expect(m.paystack.transfer(payout.reference)).toBeUndefined();

    expect((await dispute('charge.dispute.resolve', c.reference, { resolution: 'declined' })).status).toBe(200);
    expect((await knex()('payouts').where({ id: payout.id }).first()).status).toBe('PROCESSING');
    expect(m.paystack.transfer(payout.reference)).toBeDefined();
  });

  it('refunds and fails the waiting payout when the customer wins; duplicates have one effect', async () => {
    const c = await completed();
    await dispute('charge.dispute.create', c.reference);
    await dispute('charge.dispute.create', c.reference);
    const payment = await knex()('payments').where({ reference: c.reference }).first();
    expect(payment.disputed_at).not.toBeNull();
    expect(await m.srv.running.services.bookings.autoRelease(72, Date.now() + 100 * 3_600_000)).toBe(0);
    expect((await knex()('payments').where({ id: payment.id }).first()).status).toBe('ESCROW');

    await dispute('charge.dispute.resolve', c.reference, { resolution: 'auto-accepted' });
    expect(await knex()('payments').where({ id: payment.id }).first()).toEqual(expect.objectContaining({ status: 'REFUNDED', disputed_at: null }));
    const opened = await knex()('events').where({ type: 'payment.dispute_opened' }).whereRaw(`payload->>'reference' = ?`, [c.reference]);
    expect(opened).toHaveLength(1);
    expect((await c.client.get('/api/notifications')).body.notifications[0].body).toContain('R2,500.00');
  });
});
