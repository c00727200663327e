import { describeDb } from '../support/test-db';
import { useMarketplace } from '../support/marketplace';

const HOUR = 3_600_000;

/** Escrow is not released for work not done: the provider cannot start early, the client can hold it. */
describeDb('escrow: the client can hold money for work not done', () => {
  const m = useMarketplace({ env: { RECONCILE_INTERVAL_MS: '3600000', AUTO_RELEASE_HOURS: '72' }, auditLedger: true });
  const knex = () => m.srv.db.database.knex;
  const bookings = () => m.srv.running.services.bookings;

  /** A paid booking at `scheduledFor`, in escrow. */
  async function paid(scheduledFor: Date, prefix = 'hold') {
    const c = await m.confirmedBookingWithPayment({ prefix, amount: 60_000 });
    await knex()('bookings').where({ id: c.id }).update({ scheduled_for: scheduledFor });
    await m.paystack.completeCharge(c.reference);
    return c;
  }

  it('refuses to start work long before its time (409 TOO_EARLY), and allows it within START_EARLY_MINUTES', async () => {
    const c = await paid(new Date(Date.now() + 60 * 24 * HOUR));
    const early = await c.provider.post(`/api/bookings/${c.id}/start`);
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe('TOO_EARLY');
    expect(Date.parse(early.body.error.details.earliestStart)).toBeGreaterThan(Date.now() + 59 * 24 * HOUR);
    expect((await knex()('bookings').where({ id: c.id }).first()).status).toBe('CONFIRMED');
    await knex()('bookings')
      .where({ id: c.id })
      .update({ scheduled_for: new Date(Date.now() + 110 * 60_000) });
    await c.provider.post(`/api/bookings/${c.id}/start`).expect(200);
  });

  it('holds escrow when the client disputes work marked complete: no auto-release, no payout, everyone told', async () => {
    const ops = m.user('hold-ops', 'admin');
    await ops.get('/api/me').expect(200);
    const c = await paid(new Date(Date.now() + HOUR));
    await c.provider.post(`/api/bookings/${c.id}/start`).expect(200);
    await c.provider.post(`/api/bookings/${c.id}/complete`).expect(200);

    const bad = await c.client.post(`/api/bookings/${c.id}/dispute`, {});
    expect(bad.status).toBe(400);
    expect((await c.provider.post(`/api/bookings/${c.id}/dispute`, { reason: 'x' })).status).toBe(403);
    const held = await c.client.post(`/api/bookings/${c.id}/dispute`, { reason: 'Nobody came to fix the geyser' }).expect(200);
    expect(held.body).toEqual(expect.objectContaining({ id: c.id, status: 'COMPLETED', payment: expect.objectContaining({ status: 'ESCROW' }) }));
    // A second call changes nothing and tells nobody again.
    const events = async () => (await knex()('events').where({ type: 'booking.disputed' }).whereRaw(`payload->'booking'->>'id' = ?`, [c.id])).length;
    expect(await events()).toBe(1);
    await c.client.post(`/api/bookings/${c.id}/dispute`, { reason: 'again' }).expect(200);
    expect(await events()).toBe(1);

    expect(await bookings().autoRelease(72, Date.now() + 200 * HOUR)).toBe(0);
    expect(await bookings().remindBeforeRelease(72, Date.now() + 200 * HOUR)).toBe(0);
    expect((await knex()('payments').where({ reference: c.reference }).first()).status).toBe('ESCROW');
    expect(await knex()('payouts').where({ booking_id: c.id })).toEqual([]);

    const inbox = async (who: { get(p: string): { expect(n: number): Promise<{ body: { notifications: Array<{ type: string; title: string }> } }> } }) =>
      (await who.get('/api/notifications').expect(200)).body.notifications.map((n) => n.type);
    expect(await inbox(c.provider)).toContain('booking.disputed');
    expect(await inbox(c.client)).toContain('booking.disputed');
    expect(await inbox(ops)).toEqual(['ops.attention']);
  });

  it('refuses a dispute when nothing is in escrow', async () => {
    const c = await m.confirmedBookingWithPayment({ prefix: 'hold-none', amount: 10_000 });
    const res = await c.client.post(`/api/bookings/${c.id}/dispute`, { reason: 'not paid yet' });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('INVALID_TRANSITION');
  });

  it('counts auto-release from the later of completion and the booking time, says when, and reminds the client a day before', async () => {
    const scheduled = new Date(Date.now() + 100 * 60_000);
    const c = await paid(scheduled);
    await c.provider.post(`/api/bookings/${c.id}/start`).expect(200);
    const done = await c.provider.post(`/api/bookings/${c.id}/complete`).expect(200);
    expect(done.body.status).toBe('COMPLETED');
    const completed = await knex()('events').where({ type: 'booking.completed' }).whereRaw(`payload->'booking'->>'id' = ?`, [c.id]).first();
    const releaseAt = Date.parse(completed.payload.autoReleaseAt);
    expect(releaseAt).toBe(scheduled.getTime() + 72 * HOUR);

    expect(await bookings().remindBeforeRelease(72, releaseAt - 25 * HOUR)).toBe(0);
    expect(await bookings().remindBeforeRelease(72, releaseAt - 23 * HOUR)).toBe(1);
    expect(await bookings().remindBeforeRelease(72, releaseAt - 22 * HOUR)).toBe(0);
    const inbox = (await c.client.get('/api/notifications').expect(200)).body.notifications;
    expect(inbox[0]).toEqual(expect.objectContaining({ type: 'booking.release_reminder', title: 'Payment will be released tomorrow' }));

    // 72 h after completion is not enough: the booking's own time came later.
    expect(await bookings().autoRelease(72, Date.now() + 72 * HOUR + 60_000)).toBe(0);
    expect(await bookings().autoRelease(72, releaseAt + 60_000)).toBe(1);
    expect((await knex()('payments').where({ reference: c.reference }).first()).status).toBe('RELEASED');
  });
});
