import { describeDb } from '../support/test-db';
import { type Actor, type ConfirmedBooking, postCardDispute, useMarketplace } from '../support/marketplace';

const HOUR = 3_600_000;

/** Every case in which money waits for a person is in the operators' queue, and they can act on it. */
describeDb('escrow: the attention queue and the operators’ actions', () => {
  const m = useMarketplace({ env: { RECONCILE_INTERVAL_MS: '3600000', DISPUTE_ALERT_DAYS: '7', STALLED_WORK_HOURS: '48' }, auditLedger: true });
  let ops: Actor;
  beforeAll(async () => {
    ops = m.user('attention-ops', 'admin');
    await ops.get('/api/me').expect(200);
  });
  const knex = () => m.srv.db.database.knex;
  const paymentOf = (reference: string) => knex()('payments').where({ reference }).first();
  type Item = { kind: string; id: string; bookingId: string; reason: string; amount: number; currency: string; since: string };
  const queue = async (): Promise<Item[]> => (await ops.get('/api/ops/attention').expect(200)).body.items;
  const casesOf = async (bookingId: string) => (await queue()).filter((i) => i.bookingId === bookingId).map((i) => i.reason);
  const alertsFor = async (bookingId: string) =>
    (await knex()('events').where({ type: 'ops.attention' }).whereRaw(`payload->>'bookingId' = ?`, [bookingId])).map(
      (e: { payload: { item: Item } }) => e.payload.item.reason,
    );
  const paid = async (prefix: string, amount = 50_000): Promise<ConfirmedBooking> => {
    const c = await m.confirmedBookingWithPayment({ prefix, amount });
    await m.paystack.completeCharge(c.reference);
    return c;
  };
  const act = (id: string, action: string, body: object = { reason: 'checked with both parties' }) => ops.post(`/api/ops/bookings/${id}/${action}`, body);

  it('is for admins, and every action needs a reason', async () => {
    const c = await paid('att-auth');
    expect((await c.client.get('/api/ops/attention')).status).toBe(403);
    expect((await c.client.post(`/api/ops/bookings/${c.id}/release`, { reason: 'x' })).status).toBe(403);
    const noReason = await act(c.id, 'release', {});
    expect(noReason.status).toBe(400);
    expect(noReason.body.error.code).toBe('VALIDATION_FAILED');
    expect((await paymentOf(c.reference)).status).toBe('ESCROW');
  });

  it('a flagged charge: in the queue at once with the verified amount kept, accepted into escrow by an admin', async () => {
    const c = await m.confirmedBookingWithPayment({ prefix: 'att-flag', amount: 50_000 });
    await m.paystack.completeCharge(c.reference, { amount: 49_000 });
    const flagged = await paymentOf(c.reference);
    expect(flagged).toEqual(expect.objectContaining({ status: 'FLAGGED' }));
    expect(Number(flagged.verified_amount)).toBe(49_000);
    expect(await casesOf(c.id)).toEqual(['FLAGGED']);
    expect(await alertsFor(c.id)).toEqual(['FLAGGED']);
    const inbox = (await ops.get('/api/notifications').expect(200)).body.notifications;
    expect(inbox[0]).toEqual(expect.objectContaining({ type: 'ops.attention', title: 'Needs attention: charge does not match the booking' }));

    const res = await act(c.id, 'accept-flagged').expect(200);
    expect(res.body).toEqual({ bookingId: c.id, action: 'accept-flagged', paymentStatus: 'ESCROW' });
    expect(await paymentOf(c.reference)).toEqual(expect.objectContaining({ status: 'ESCROW', amount: '49000' }));
    expect(await casesOf(c.id)).toEqual([]);
    expect(await knex()('admin_actions').where({ booking_id: c.id })).toEqual([
      expect.objectContaining({ actor_id: 'attention-ops', action: 'accept-flagged', reason: 'checked with both parties' }),
    ]);
    const told = (await c.client.get('/api/notifications').expect(200)).body.notifications[0];
    expect(told).toEqual(expect.objectContaining({ type: 'booking.admin_action', title: 'Our team has decided' }));
    expect((await c.provider.get('/api/notifications').expect(200)).body.notifications[0].type).toBe('booking.admin_action');
  });

  it('a flagged charge refunded instead', async () => {
    const c = await m.confirmedBookingWithPayment({ prefix: 'att-flag-r', amount: 50_000 });
    await m.paystack.completeCharge(c.reference, { amount: 51_000 });
    await act(c.id, 'refund').expect(200);
    expect((await paymentOf(c.reference)).status).toBe('REFUND_PENDING');
    await m.paystack.processRefund(c.reference);
    expect((await paymentOf(c.reference)).status).toBe('REFUNDED');
  });

  it('a provider who completes without doing the work: held by the client, refunded by an admin', async () => {
    const c = await paid('att-undone');
    await c.provider.post(`/api/bookings/${c.id}/start`).expect(200);
    await c.provider.post(`/api/bookings/${c.id}/complete`).expect(200);
    await c.client.post(`/api/bookings/${c.id}/dispute`, { reason: 'Nobody came' }).expect(200);
    expect(await casesOf(c.id)).toEqual(['CLIENT_DISPUTE']);
    await act(c.id, 'refund').expect(200);
    expect(await casesOf(c.id)).toEqual([]);
    await m.paystack.processRefund(c.reference);
    expect((await paymentOf(c.reference)).status).toBe('REFUNDED');
    expect(await knex()('payouts').where({ booking_id: c.id })).toEqual([]);
  });

  it('a client dispute decided for the provider: released by an admin, the payout goes out', async () => {
    const c = await paid('att-release');
    await c.provider.post(`/api/bookings/${c.id}/start`).expect(200);
    await c.provider.post(`/api/bookings/${c.id}/complete`).expect(200);
    await c.client.post(`/api/bookings/${c.id}/dispute`, { reason: 'Not sure' }).expect(200);
    await act(c.id, 'release').expect(200);
    expect((await paymentOf(c.reference)).status).toBe('RELEASED');
    expect((await knex()('payouts').where({ booking_id: c.id }).first()).status).toBe('PROCESSING');
    expect((await act(c.id, 'release')).status).toBe(409);
  });

  it('a refund that keeps failing is in the queue, and an admin can retry it', async () => {
    const c = await paid('att-refund');
    m.paystack.failNext('POST', '/refund', { status: 503 });
    await c.client.post(`/api/bookings/${c.id}/cancel`).expect(200);
    expect(await casesOf(c.id)).toEqual(['REFUND_FAILING']);
    await act(c.id, 'retry-refund').expect(200);
    expect(m.paystack.refundsOf(c.reference)).toHaveLength(1);
    expect(await casesOf(c.id)).toEqual([]);
  });

  it('a payout that failed, and one that needs an OTP: in the queue, never retried into failures', async () => {
    const noAccount = m.user('att-noacct-p', 'provider');
    await noAccount.get('/api/me').expect(200);
    const client = m.user('att-noacct-c', 'client', { email: 'noacct@example.co.za' });
    const b = await client
      .post('/api/bookings', { providerId: noAccount.sub, service: 's', scheduledFor: new Date(Date.now() + HOUR).toISOString(), amount: 20_000 })
      .expect(201);
    await noAccount.post(`/api/bookings/${b.body.id}/accept`).expect(200);
    const pay = await client.post(`/api/bookings/${b.body.id}/payment`).expect(200);
    await m.paystack.completeCharge(pay.body.reference);
    await noAccount.post(`/api/bookings/${b.body.id}/start`).expect(200);
    await noAccount.post(`/api/bookings/${b.body.id}/complete`).expect(200);
    await client.post(`/api/bookings/${b.body.id}/confirm-completion`).expect(200);
    expect(await casesOf(b.body.id)).toEqual(['PAYOUT_FAILED']);

    const c = await paid('att-otp');
    await c.provider.post(`/api/bookings/${c.id}/start`).expect(200);
    await c.provider.post(`/api/bookings/${c.id}/complete`).expect(200);
    m.paystack.transferOtp = true;
    try {
      await c.client.post(`/api/bookings/${c.id}/confirm-completion`).expect(200);
    } finally {
      m.paystack.transferOtp = false;
    }
    const payout = await knex()('payouts').where({ booking_id: c.id }).first();
    expect(payout).toEqual(expect.objectContaining({ status: 'PROCESSING', reason: 'OTP_REQUIRED' }));
    expect(await casesOf(c.id)).toEqual(['OTP_REQUIRED']);
    // The reconciler sees a transfer waiting for its OTP: not final, nothing sent again.
    await knex()('payouts')
      .where({ id: payout.id })
      .update({ updated_at: new Date(Date.now() - 2 * HOUR) });
    await m.srv.running.services.reconciler!.runOnce();
    expect((await knex()('payouts').where({ id: payout.id }).first()).status).toBe('PROCESSING');
    expect(
      m.paystack.requests.filter((r) => r.method === 'POST' && r.path === '/transfer' && (r.body as { reference: string }).reference === payout.reference),
    ).toHaveLength(1);
  });

  it('cases that only time creates: a card dispute open too long, escrow held past the booking time with the work not done', async () => {
    const dispute = await paid('att-card');
    await postCardDispute(m, 'charge.dispute.create', {
      id: 77_000 + Number(dispute.id),
      reference: dispute.reference,
      amount: m.paystack.transaction(dispute.reference)!.amount,
    });
    const stalled = await paid('att-stall');
    expect(await casesOf(dispute.id)).toEqual([]);
    expect(await casesOf(stalled.id)).toEqual([]);

    await knex()('payments')
      .where({ reference: dispute.reference })
      .update({ disputed_at: new Date(Date.now() - 8 * 24 * HOUR) });
    await knex()('bookings')
      .where({ id: stalled.id })
      .update({ scheduled_for: new Date(Date.now() - 49 * HOUR) });
    expect(await casesOf(dispute.id)).toEqual(['CARD_DISPUTE']);
    expect(await casesOf(stalled.id)).toEqual(['STALLED_WORK']);
    const attention = m.srv.running.services.attention;
    expect(await attention.sweep(m.srv.running.services.publisher)).toBeGreaterThanOrEqual(2);
    expect(await alertsFor(dispute.id)).toEqual(['CARD_DISPUTE']);
    expect(await alertsFor(stalled.id)).toEqual(['STALLED_WORK']);
    // Told once: a second sweep raises nothing new for them.
    await attention.sweep(m.srv.running.services.publisher);
    expect(await alertsFor(stalled.id)).toEqual(['STALLED_WORK']);
    // An admin refunds the stalled booking: it leaves the queue.
    await act(stalled.id, 'refund').expect(200);
    expect(await casesOf(stalled.id)).toEqual([]);
    // A card dispute is for the bank to decide: no refund or release while it is open.
    expect((await act(dispute.id, 'refund')).body.error.code).toBe('DISPUTE_OPEN');
  });
});
