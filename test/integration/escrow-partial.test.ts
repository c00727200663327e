import { describeDb } from '../support/test-db';
import { PAYSTACK_TEST_KEY, postCardDispute, useMarketplace, type Actor, type ConfirmedBooking } from '../support/marketplace';
import { payoutAmount } from '../../src/payments/escrow';

/**
 * Part of a charge going back to the client: a partial refund (an operator's, or one made in
 * Paystack's dashboard) and a card dispute lost for part of the charge, before the release, while
 * the payout waits, and after it went out. The rest is held or paid out, never the whole; every
 * cent is in the journal.
 */
describeDb('escrow: partial refunds and partial disputes', () => {
  const m = useMarketplace({ env: { RECONCILE_INTERVAL_MS: '3600000', PLATFORM_FEE_BPS: '500' }, auditLedger: true });
  let ops: Actor;
  let n = 0;
  beforeAll(async () => {
    ops = m.user('partial-ops', 'admin');
    await ops.get('/api/me').expect(200);
  });
  const knex = () => m.srv.db.database.knex;
  const paymentOf = (reference: string) => knex()('payments').where({ reference }).first();
  const payoutOf = (bookingId: string) => knex()('payouts').where({ booking_id: bookingId }).first();
  const eventsOf = (type: string, bookingId: string) => knex()('events').where({ type }).whereRaw(`payload->>'bookingId' = ?`, [bookingId]).orderBy('id');

  /** Paid (R1,000.00 in escrow), started and completed; the client has not confirmed. */
  async function completed(prefix: string): Promise<ConfirmedBooking> {
    const c = await m.confirmedBookingWithPayment({ prefix, amount: 100_000, service: 'painting' });
    await m.paystack.completeCharge(c.reference);
    await c.provider.post(`/api/bookings/${c.id}/start`).expect(200);
    await c.provider.post(`/api/bookings/${c.id}/complete`).expect(200);
    return c;
  }

  const dispute = (event: string, reference: string, extra: object = {}) => postCardDispute(m, event, { id: 770000 + n, reference, amount: 100_000 }, extra);

  /** A refund made outside our API, in Paystack's dashboard (here: the fake's own endpoint). */
  const dashboardRefund = (reference: string, amount: number) =>
    fetch(`${m.paystack.url}/refund`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${PAYSTACK_TEST_KEY}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ transaction: reference, amount }),
    });

  beforeEach(() => void n++);

  it('an operator refunds part of escrow: the rest stays held, and the release pays out only the rest', async () => {
    const c = await completed('part-admin');
    const tooMuch = await ops.post(`/api/ops/bookings/${c.id}/refund`, { reason: 'half the rooms painted', amount: 100_001 });
    expect(tooMuch.status).toBe(409);
    expect(tooMuch.body.error).toEqual(expect.objectContaining({ code: 'AMOUNT_EXCEEDS_HELD', details: { heldAmount: 100_000, currency: 'ZAR' } }));
    const notForRelease = await ops.post(`/api/ops/bookings/${c.id}/release`, { reason: 'x', amount: 100 });
    expect(notForRelease.status).toBe(400);
    expect((await paymentOf(c.reference)).status).toBe('ESCROW');

    const r = await ops.post(`/api/ops/bookings/${c.id}/refund`, { reason: 'half the rooms painted', amount: 40_000 });
    expect(r.status).toBe(200);
    expect(r.body.paymentStatus).toBe('REFUND_PENDING');
    // Paystack is asked for the part only.
    expect(m.paystack.refundsOf(c.reference).map((x) => x.amount)).toEqual([40_000]);
    expect((await c.client.get('/api/notifications')).body.notifications[0].body).toContain('R400.00');

    await m.paystack.processRefund(c.reference);
    expect(await paymentOf(c.reference)).toEqual(expect.objectContaining({ status: 'ESCROW', refunded_amount: '40000', refund_target: null }));
    const [partial] = await eventsOf('payment.partially_refunded', c.id);
    expect(partial.payload).toEqual(expect.objectContaining({ amount: 40_000, refundedAmount: 40_000, heldAmount: 60_000, cause: 'REFUND', status: 'ESCROW' }));
    expect((await c.client.get('/api/notifications')).body.notifications[0]).toEqual(
      expect.objectContaining({ title: 'Part of your payment came back', body: expect.stringContaining('R600.00 stays in escrow') }),
    );
    // A redelivery, and the reconciler reading the same processed refund, count nothing twice.
    expect((await m.paystack.resendLastWebhook()).status).toBe(200);
    await m.srv.running.services.reconciler!.runOnce(Date.now() + 365 * 86_400_000);
    expect((await paymentOf(c.reference)).refunded_amount).toBe('40000');

    await c.client.post(`/api/bookings/${c.id}/confirm-completion`).expect(200);
    expect((await paymentOf(c.reference)).status).toBe('RELEASED');
    expect(Number((await payoutOf(c.id)).amount)).toBe(payoutAmount(60_000, 500));
  });

  it('a partial refund made in Paystack’s dashboard comes out of escrow; a second one that empties it refunds the payment', async () => {
    const c = await completed('part-dash');
    expect((await dashboardRefund(c.reference, 25_000)).status).toBe(200);
    await m.paystack.processRefund(c.reference);
    expect(await paymentOf(c.reference)).toEqual(expect.objectContaining({ status: 'ESCROW', refunded_amount: '25000' }));
    expect((await c.provider.get('/api/notifications')).body.notifications[0].title).toBe('Part of a payment went back to the client');

    expect((await dashboardRefund(c.reference, 75_000)).status).toBe(200);
    await m.paystack.processRefund(c.reference);
    expect(await paymentOf(c.reference)).toEqual(expect.objectContaining({ status: 'REFUNDED', refunded_amount: '100000' }));
    expect(await payoutOf(c.id)).toBeUndefined();
  });

  it('the reconciler counts a partial refund whose webhook was lost', async () => {
    const c = await completed('part-lost');
    await ops.post(`/api/ops/bookings/${c.id}/refund`, { reason: 'one room not painted', amount: 10_000 }).expect(200);
    // Paystack processes the refund, but its webhook never reaches us.
    m.paystack.refundsOf(c.reference)[0].status = 'processed';
    expect((await paymentOf(c.reference)).status).toBe('REFUND_PENDING');
    await m.srv.running.services.reconciler!.runOnce(Date.now() + 365 * 86_400_000);
    expect(await paymentOf(c.reference)).toEqual(expect.objectContaining({ status: 'ESCROW', refunded_amount: '10000' }));
  });

  it('a card dispute lost for part of the charge while it is held: the rest stays in escrow and is paid out', async () => {
    const c = await completed('part-dsp-held');
    await dispute('charge.dispute.create', c.reference);
    await dispute('charge.dispute.resolve', c.reference, { resolution: 'auto-accepted', refund_amount: 30_000 });
    expect(await paymentOf(c.reference)).toEqual(expect.objectContaining({ status: 'ESCROW', charged_back_amount: '30000', disputed_at: null }));
    const [partial] = await eventsOf('payment.partially_refunded', c.id);
    expect(partial.payload).toEqual(expect.objectContaining({ amount: 30_000, heldAmount: 70_000, cause: 'CARD_DISPUTE' }));
    const told = (await c.provider.get('/api/notifications')).body.notifications.map((x: { body: string }) => x.body);
    expect(told).toContainEqual(expect.stringContaining("resolved in the client's favour for R300.00"));
    await c.client.post(`/api/bookings/${c.id}/confirm-completion`).expect(200);
    const payout = await payoutOf(c.id);
    expect(Number(payout.amount)).toBe(payoutAmount(70_000, 500));
    expect(payout.status).toBe('PROCESSING');
  });

  it('a card dispute lost for part of the charge while the payout waits: the payout is made smaller and sent, not failed', async () => {
    const c = await completed('part-dsp-wait');
    await dispute('charge.dispute.create', c.reference);
    await c.client.post(`/api/bookings/${c.id}/confirm-completion`).expect(200);
    const frozen = await payoutOf(c.id);
    expect(frozen).toEqual(expect.objectContaining({ status: 'PENDING', amount: String(payoutAmount(100_000, 500)) }));

    await dispute('charge.dispute.resolve', c.reference, { resolution: 'auto-accepted', refund_amount: 20_000 });
    const payout = await payoutOf(c.id);
    expect(payout).toEqual(expect.objectContaining({ status: 'PROCESSING', amount: String(payoutAmount(80_000, 500)) }));
    expect(m.paystack.transfer(payout.reference)?.amount).toBe(payoutAmount(80_000, 500));
    expect(await paymentOf(c.reference)).toEqual(expect.objectContaining({ status: 'RELEASED', charged_back_amount: '20000' }));
    // The client never sees the payout's amount.
    const [partial] = await eventsOf('payment.partially_refunded', c.id);
    expect(JSON.stringify(partial.payload)).not.toMatch(/payout/i);
  });

  it('a card dispute lost for part of the charge after the payout went out: a chargeback loss of that part, in the queue', async () => {
    const c = await completed('part-dsp-late');
    await c.client.post(`/api/bookings/${c.id}/confirm-completion`).expect(200);
    const payout = await payoutOf(c.id);
    await m.paystack.settleTransfer(payout.reference, 'success');
    await dispute('charge.dispute.create', c.reference);
    await dispute('charge.dispute.resolve', c.reference, { resolution: 'auto-accepted', refund_amount: 15_000 });
    expect(await paymentOf(c.reference)).toEqual(expect.objectContaining({ status: 'RELEASED', chargeback_loss: '15000' }));
    const items = (await ops.get('/api/ops/attention').expect(200)).body.items.filter((i: { bookingId: string }) => i.bookingId === c.id);
    expect(items).toEqual([expect.objectContaining({ reason: 'CHARGEBACK_LOSS', amount: 15_000 })]);
  });

  it('a card dispute lost for all that is left after a partial refund refunds the payment, and only what was left', async () => {
    const c = await completed('part-then-all');
    await ops.post(`/api/ops/bookings/${c.id}/refund`, { reason: 'a wall missed', amount: 10_000 }).expect(200);
    await m.paystack.processRefund(c.reference);
    await dispute('charge.dispute.create', c.reference);
    await dispute('charge.dispute.resolve', c.reference, { resolution: 'auto-accepted', refund_amount: 100_000 });
    expect(await paymentOf(c.reference)).toEqual(expect.objectContaining({ status: 'REFUNDED', refunded_amount: '10000', charged_back_amount: '90000' }));
    const [resolved] = await eventsOf('payment.dispute_resolved', c.id);
    expect(resolved.payload.refundAmount).toBe(90_000);
  });
});
