import { describeDb } from '../support/test-db';
import { startMarketplace, type Actor, type Marketplace } from '../support/marketplace';
import { openStream, type TestStream } from '../support/sse-client';
import { inAnHour } from '../support/booking-time';
import { sleep } from '../support/sleep';

jest.setTimeout(60_000);

describeDb('bookings, escrow and payouts, end to end', () => {
  let m: Marketplace;
  let n = 0;
  const streams: TestStream[] = [];
  beforeAll(async () => {
    m = await startMarketplace();
  });
  afterEach(() => streams.splice(0).forEach((s) => s.close()));
  afterAll(() => m.stop());

  /** A fresh client and provider (the provider with a payout account), each with a live stream. */
  async function pair() {
    n++;
    const client = m.user(`client-${n}`, 'client', { name: `Client ${n}`, email: `client${n}@example.co.za` });
    const provider = m.user(`provider-${n}`, 'provider', { name: `Provider ${n}` });
    await provider.get('/api/me').expect(200);
    const cs = await openStream(m.srv.url, { token: client.token });
    const ps = await openStream(m.srv.url, { token: provider.token });
    streams.push(cs, ps);
    return { client, provider, cs, ps };
  }

  async function book(client: Actor, provider: Actor, amount = 135000) {
    const res = await client.post('/api/bookings', { providerId: provider.sub, service: 'plumbing', scheduledFor: inAnHour(), amount });
    expect(res.status).toBe(201);
    return res.body as { id: string; status: string };
  }

  async function paidBooking() {
    const p = await pair();
    await p.provider.put('/api/me/payout-account', { accountName: 'Thandi Nkosi', accountNumber: '0123456789', bankCode: '632005' }).expect(200);
    const b = await book(p.client, p.provider);
    await p.provider.post(`/api/bookings/${b.id}/accept`).expect(200);
    const pay = await p.client.post(`/api/bookings/${b.id}/payment`).expect(200);
    const hook = await m.paystack.completeCharge(pay.body.reference);
    expect(hook.status).toBe(200);
    return { ...p, booking: b, reference: pay.body.reference as string };
  }

  const payoutRef = async (bookingId: string): Promise<string> => (await m.srv.db.database.knex('payouts').where({ booking_id: bookingId }).first()).reference;

  const ofType = (s: TestStream, type: string) => s.events.filter((e) => e.type === type).map((e) => e.data.data);

  it('(1) provider accepts a booking: the client’s stream gets booking.accepted, status CONFIRMED', async () => {
    const { client, provider, cs, ps } = await pair();
    const b = await book(client, provider);
    expect(b.status).toBe('PENDING');
    await ps.waitFor((s) => ofType(s, 'booking.created').length === 1, 5_000, 'booking.created');

    const res = await provider.post(`/api/bookings/${b.id}/accept`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(expect.objectContaining({ id: b.id, status: 'CONFIRMED', payment: null, payout: null }));
    await cs.waitFor((s) => ofType(s, 'booking.accepted').length === 1, 5_000, 'booking.accepted');
    const ev = ofType(cs, 'booking.accepted')[0];
    expect(ev).toEqual({ booking: expect.objectContaining({ id: b.id, status: 'CONFIRMED' }), previousStatus: 'PENDING', status: 'CONFIRMED' });
  });

  it('(2) charge.success: both parties’ streams see the payment reach ESCROW', async () => {
    const { cs, ps, booking, client } = await paidBooking();
    for (const s of [cs, ps]) {
      await s.waitFor((x) => ofType(x, 'payment.status_changed').some((d) => d.status === 'ESCROW'), 5_000, 'ESCROW');
      expect(ofType(s, 'payment.status_changed').map((d) => d.status)).toEqual(['PENDING', 'PAID', 'ESCROW']);
    }
    const view = await client.get(`/api/bookings/${booking.id}`).expect(200);
    expect(view.body.payment).toEqual(expect.objectContaining({ status: 'ESCROW', amount: 135000 }));
  });

  it('(3) confirm completion pays out; transfer.success reaches the provider as COMPLETED', async () => {
    const { client, provider, ps, cs, booking } = await paidBooking();
    await provider.post(`/api/bookings/${booking.id}/start`).expect(200);
    await provider.post(`/api/bookings/${booking.id}/complete`).expect(200);
    const confirmed = await client.post(`/api/bookings/${booking.id}/confirm-completion`).expect(200);
    expect(confirmed.body.payment.status).toBe('RELEASED');
    // The payout is the provider's (src/bookings/booking-views.ts): the client's answer has none.
    expect(confirmed.body).not.toHaveProperty('payout');
    // Less the platform's fee (PLATFORM_FEE_BPS, 5% by default).
    expect((await provider.get(`/api/bookings/${booking.id}`)).body.payout).toEqual(expect.objectContaining({ status: 'PROCESSING', amount: 128_250 }));

    await m.paystack.settleTransfer(await payoutRef(booking.id), 'success');
    await ps.waitFor((s) => ofType(s, 'payout.status_changed').some((d) => d.status === 'COMPLETED'), 5_000, 'payout COMPLETED');
    expect(ofType(ps, 'payout.status_changed').map((d) => d.status)).toEqual(['PENDING', 'PROCESSING', 'COMPLETED']);
    await sleep(100);
    // Payouts are the provider's business only.
    expect(ofType(cs, 'payout.status_changed')).toEqual([]);
    expect((await provider.get(`/api/bookings/${booking.id}`)).body.payout.status).toBe('COMPLETED');
  });

  it('(4) a failed transfer leaves the payout FAILED, with its reason', async () => {
    const { client, provider, ps, booking } = await paidBooking();
    await provider.post(`/api/bookings/${booking.id}/start`).expect(200);
    await provider.post(`/api/bookings/${booking.id}/complete`).expect(200);
    await client.post(`/api/bookings/${booking.id}/confirm-completion`).expect(200);
    await m.paystack.settleTransfer(await payoutRef(booking.id), 'failed');
    await ps.waitFor((s) => ofType(s, 'payout.status_changed').some((d) => d.status === 'FAILED'), 5_000, 'payout FAILED');
    const view = await provider.get(`/api/bookings/${booking.id}`).expect(200);
    expect(view.body.payout).toEqual(expect.objectContaining({ status: 'FAILED', reason: 'TRANSFER_FAILED' }));
  });

  it('(4b) a provider without a payout account gets a FAILED payout with NO_PAYOUT_ACCOUNT', async () => {
    const { client, provider } = await pair();
    const b = await book(client, provider, 5000);
    await provider.post(`/api/bookings/${b.id}/accept`).expect(200);
    const pay = await client.post(`/api/bookings/${b.id}/payment`).expect(200);
    await m.paystack.completeCharge(pay.body.reference);
    await provider.post(`/api/bookings/${b.id}/start`).expect(200);
    await provider.post(`/api/bookings/${b.id}/complete`).expect(200);
    await client.post(`/api/bookings/${b.id}/confirm-completion`).expect(200);
    const res = await provider.get(`/api/bookings/${b.id}`).expect(200);
    expect(res.body.payout).toEqual(expect.objectContaining({ status: 'FAILED', reason: 'NO_PAYOUT_ACCOUNT' }));
  });
});
