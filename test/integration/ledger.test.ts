import request from 'supertest';
import { describeDb } from '../support/test-db';
import { type Actor, type Marketplace, postCardDispute, startMarketplace } from '../support/marketplace';
import { payoutAmount } from '../../src/payments/escrow';
import type { LedgerSummary } from '../../src/payments/ledger';
import { maxPayoutSql } from '../../src/payments/ledger-repository';
import { inAnHour } from '../support/booking-time';

jest.setTimeout(60_000);

const FEE_BPS = 250;

describeDb('money ledger and payment/payout lists', () => {
  let m: Marketplace;
  const knex = () => m.srv.db.database.knex;

  let admin: Actor;
  let ca: Actor; // client of A (released, payout completed), H (released, payout failed), D (in escrow)
  let cb: Actor; // client of B (refunded), E (refund pending), C (flagged)
  let cc: Actor; // client of F (pending, not received) and G (released, transfer rejected)
  let cd: Actor; // client of I (released, then a card dispute the customer won)
  let pa: Actor; // provider with a payout account: A, B, D, E, F, G, I
  let pb: Actor; // provider without one: H, C

  /** Per flow: booking id, payment id, payment reference, payout id (when released). */
  const flows: Record<string, { booking: string; payment: string; reference: string; payout?: string }> = {};

  async function checkout(key: string, client: Actor, provider: Actor, amount: number, currency = 'ZAR') {
    const b = await client.post('/api/bookings', { providerId: provider.sub, service: 'plumbing', scheduledFor: inAnHour(), amount, currency }).expect(201);
    await provider.post(`/api/bookings/${b.body.id}/accept`).expect(200);
    const pay = await client.post(`/api/bookings/${b.body.id}/payment`).expect(200);
    const payment = await knex()('payments').where({ reference: pay.body.reference }).first();
    flows[key] = { booking: b.body.id, payment: String(payment.id), reference: pay.body.reference };
    return flows[key];
  }

  async function release(key: string, client: Actor, provider: Actor) {
    const f = flows[key];
    await provider.post(`/api/bookings/${f.booking}/start`).expect(200);
    await provider.post(`/api/bookings/${f.booking}/complete`).expect(200);
    const res = await client.post(`/api/bookings/${f.booking}/confirm-completion`).expect(200);
    expect(res.body.payment.status).toBe('RELEASED');
    // The payout is in the provider's view of the booking only.
    const view = await provider.get(`/api/bookings/${f.booking}`).expect(200);
    f.payout = String(view.body.payout.id);
    return view.body.payout as { id: string; status: string; amount: number };
  }

  const charge = async (key: string, overrides?: { amount?: number }) => {
    expect((await m.paystack.completeCharge(flows[key].reference, overrides)).status).toBe(200);
  };

  const summary = async (): Promise<LedgerSummary> => (await admin.get('/api/ledger/summary').expect(200)).body;
  const failing = (s: LedgerSummary) => s.checks.filter((c) => !c.ok).map((c) => c.name);

  beforeAll(async () => {
    m = await startMarketplace({ PLATFORM_FEE_BPS: String(FEE_BPS) });
    admin = m.user('ledger-admin', 'admin');
    ca = m.user('ledger-ca', 'client', { email: 'ca@example.co.za' });
    cb = m.user('ledger-cb', 'client', { email: 'cb@example.co.za' });
    cc = m.user('ledger-cc', 'client', { email: 'cc@example.co.za' });
    cd = m.user('ledger-cd', 'client', { email: 'cd@example.co.za' });
    pa = m.user('ledger-pa', 'provider');
    pb = m.user('ledger-pb', 'provider');
    for (const u of [admin, ca, cb, cc, cd, pa, pb]) await u.get('/api/me').expect(200);
    await pa.put('/api/me/payout-account', { accountName: 'Thandi Nkosi', accountNumber: '0123456789', bankCode: '632005' }).expect(200);

    // A: the full flow; the transfer settles.
    await checkout('A', ca, pa, 42_001);
    await charge('A');
    const a = await release('A', ca, pa);
    expect(a).toEqual(expect.objectContaining({ status: 'PROCESSING', amount: 40_950 }));
    const payoutA = await knex()('payouts').where({ id: flows.A.payout }).first();
    expect((await m.paystack.settleTransfer(payoutA.reference, 'success')).status).toBe(200);

    // H: released to a provider with no payout account: the payout fails at once.
    await checkout('H', ca, pb, 10_000);
    await charge('H');
    expect(await release('H', ca, pb)).toEqual(expect.objectContaining({ status: 'FAILED', amount: 9_750, reason: 'NO_PAYOUT_ACCOUNT' }));

    // B: cancelled in escrow and refunded; E: cancelled, the refund not processed yet.
    await checkout('B', cb, pa, 15_000);
    await charge('B');
    await cb.post(`/api/bookings/${flows.B.booking}/cancel`, { reason: 'moved' }).expect(200);
    expect((await m.paystack.processRefund(flows.B.reference)).status).toBe(200);
    await checkout('E', cb, pa, 12_345);
    await charge('E');
    await pa.post(`/api/bookings/${flows.E.booking}/cancel`, { reason: 'sick' }).expect(200);

    // C: Paystack verifies another amount: flagged.
    await checkout('C', cb, pb, 20_000);
    await charge('C', { amount: 100 });

    // D: paid, in escrow. F: checkout started, never paid.
    await checkout('D', ca, pa, 30_000);
    await charge('D');
    await checkout('F', cc, pa, 5_000);

    // G: bookings are ZAR only (payouts can be made in nothing else); and Paystack refuses the transfer.
    const naira = await cc.post('/api/bookings', { providerId: pa.sub, service: 'plumbing', scheduledFor: inAnHour(), amount: 77_777, currency: 'NGN' });
    expect(naira.status).toBe(400);
    expect(naira.body.error.code).toBe('VALIDATION_FAILED');
    await checkout('G', cc, pa, 77_777);
    await charge('G');
    m.paystack.failNext('POST', '/transfer', { status: 400, body: { status: false, message: 'Your balance is not enough to fulfill this request' } });
    expect(await release('G', cc, pa)).toEqual(expect.objectContaining({ status: 'FAILED', amount: 75_832, reason: 'TRANSFER_REJECTED' }));

    // I: a card dispute opens before the client confirms; the payout waits, then the customer wins.
    await checkout('I', cd, pa, 25_000);
    await charge('I');
    const dispute = (event: string, extra: object = {}) => postCardDispute(m, event, { id: 4242, reference: flows.I.reference, amount: 25_000 }, extra);
    expect((await dispute('charge.dispute.create')).status).toBe(200);
    expect(await release('I', cd, pa)).toEqual(expect.objectContaining({ status: 'PENDING', amount: 24_375 }));
    expect((await dispute('charge.dispute.resolve', { resolution: 'auto-accepted' })).status).toBe(200);
    expect(await knex()('payouts').where({ id: flows.I.payout }).first()).toEqual(expect.objectContaining({ status: 'FAILED', reason: 'DISPUTE_LOST' }));

    const statuses = Object.fromEntries(
      await Promise.all(Object.entries(flows).map(async ([k, f]) => [k, (await knex()('payments').where({ id: f.payment }).first()).status])),
    );
    expect(statuses).toEqual({
      A: 'RELEASED',
      H: 'RELEASED',
      B: 'REFUNDED',
      E: 'REFUND_PENDING',
      C: 'FLAGGED',
      D: 'ESCROW',
      F: 'PENDING',
      G: 'RELEASED',
      I: 'REFUNDED',
    });
  });
  afterAll(() => m.stop());

  it('the SQL fee rule of the checks is payoutAmount exactly', async () => {
    const amounts = [1, 2, 3, 39, 40, 41, 399, 400, 401, 9_999, 10_000, 10_001, 42_001, 77_777, 99_999_999, 100_000_000];
    const bps = [0, 1, 3, 250, 333, 5_000, 9_999, 10_000];
    const { rows } = await knex().raw(
      `SELECT t.a::text AS a, u.b AS b, ${maxPayoutSql('t.a', 'u.b')}::text AS max
         FROM unnest(?::bigint[]) AS t(a) CROSS JOIN unnest(?::int[]) AS u(b)`,
      [amounts, bps],
    );
    expect(rows).toHaveLength(amounts.length * bps.length);
    for (const r of rows as Array<{ a: string; b: number; max: string }>) {
      expect([r.a, Number(r.b), Number(r.max)]).toEqual([r.a, Number(r.b), payoutAmount(Number(r.a), Number(r.b))]);
    }
  });

  it('sums every flow per currency, and balances', async () => {
    const s = await summary();
    expect(s.feeBps).toBe(FEE_BPS);
    expect(s.currencies).toEqual({
      ZAR: {
        // A 42001 + H 10000 + B 15000 + E 12345 + C 20000 + D 30000 + I 25000 + G 77777; F (pending) is not received.
        received: 232_123,
        inEscrow: 30_000,
        released: 129_778,
        refundPending: 12_345,
        refunded: 40_000,
        flagged: 20_000,
        // failed: H 9750 (no payout account) + I 24375 (dispute lost) + G 75832 (transfer rejected).
        payouts: { pending: 0, processing: 0, completed: 40_950, failed: 109_957, reversed: 0 },
        // ceil(42001 × 2.5%) = 1051, 250 on H's 10000 and 1945 on G's 77777; I is no longer released.
        fees: 3_246,
      },
    });
    expect(s.checks.map((c) => [c.name, c.ok])).toEqual([
      ['received_equals_buckets', true],
      ['released_have_one_payout', true],
      ['payout_within_payment_less_fee', true],
      ['payouts_only_for_released', true],
      ['amounts_positive_integers', true],
      ['payouts_match_payments', true],
    ]);
    for (const c of s.checks) expect(c.details).toEqual(expect.objectContaining({ count: 0, paymentIds: [], payoutIds: [] }));
    expect(s.balanced).toBe(true);
  });

  it('is for admins only', async () => {
    for (const u of [ca, pa]) {
      const res = await u.get('/api/ledger/summary').expect(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
    }
    const anon = await request(m.srv.url).get('/api/ledger/summary').expect(401);
    expect(anon.body.error.code).toBe('AUTH_REQUIRED');
  });

  describe('reports a corrupted database, naming the check and the row', () => {
    type Corruption = {
      what: string;
      table: 'payments' | 'payouts';
      row: () => string;
      set: Record<string, unknown>;
      check: string;
      ids: () => { paymentIds?: string[]; payoutIds?: string[] };
    };
    const cases: Corruption[] = [
      {
        what: 'a payout above its payment less the fee',
        table: 'payouts',
        row: () => flows.A.payout!,
        set: { amount: 42_001 },
        check: 'payout_within_payment_less_fee',
        ids: () => ({ payoutIds: [flows.A.payout!] }),
      },
      {
        what: 'a RELEASED payment without a payout',
        table: 'payments',
        row: () => flows.D.payment,
        set: { status: 'RELEASED' },
        check: 'released_have_one_payout',
        ids: () => ({ paymentIds: [flows.D.payment] }),
      },
      {
        what: 'a payout for a payment back in escrow',
        table: 'payments',
        row: () => flows.H.payment,
        set: { status: 'ESCROW' },
        check: 'payouts_only_for_released',
        ids: () => ({ payoutIds: [flows.H.payout!] }),
      },
      {
        what: 'a paid-out payout of a payment the customer took back by dispute',
        table: 'payouts',
        row: () => flows.I.payout!,
        set: { status: 'COMPLETED' },
        check: 'payouts_only_for_released',
        ids: () => ({ payoutIds: [flows.I.payout!] }),
      },
      {
        what: 'a payment in a status no bucket holds',
        table: 'payments',
        row: () => flows.C.payment,
        set: { status: 'LOST' },
        check: 'received_equals_buckets',
        ids: () => ({ paymentIds: [flows.C.payment] }),
      },
      {
        what: 'a payout of zero',
        table: 'payouts',
        row: () => flows.H.payout!,
        set: { amount: 0 },
        check: 'amounts_positive_integers',
        ids: () => ({ payoutIds: [flows.H.payout!] }),
      },
      {
        what: 'a payout in another currency than its payment',
        table: 'payouts',
        row: () => flows.G.payout!,
        set: { currency: 'NGN' },
        check: 'payouts_match_payments',
        ids: () => ({ payoutIds: [flows.G.payout!] }),
      },
    ];

    it.each(cases)('$what → $check', async (c) => {
      const id = c.row();
      const before = await knex()(c.table).where({ id }).first();
      const restore = Object.fromEntries(Object.keys(c.set).map((k) => [k, before[k]]));
      await knex()(c.table).where({ id }).update(c.set);
      try {
        const s = await summary();
        expect(s.balanced).toBe(false);
        expect(failing(s)).toEqual([c.check]);
        const found = s.checks.find((x) => x.name === c.check)!;
        expect(found.details).toEqual(expect.objectContaining({ count: 1, paymentIds: [], payoutIds: [], ...c.ids() }));
        if (c.check === 'received_equals_buckets') expect(found.details.currencies).toEqual(['ZAR']);
        if (c.check === 'payout_within_payment_less_fee') {
          expect(found.details.payouts).toEqual([
            { payoutId: flows.A.payout, paymentId: flows.A.payment, amount: 42_001, paymentAmount: 42_001, maximum: 40_950 },
          ]);
        }
      } finally {
        await knex()(c.table).where({ id }).update(restore);
      }
      expect((await summary()).balanced).toBe(true);
    });

    it('lists at most 20 offending ids, smallest first, with the full count', async () => {
      const bookingIds: string[] = [];
      for (let i = 0; i < 25; i++) {
        const [b] = await knex()('bookings')
          .insert({ client_id: ca.sub, provider_id: pa.sub, service: 'x', scheduled_for: new Date(), amount: 100, currency: 'ZAR', status: 'CONFIRMED' })
          .returning('id');
        bookingIds.push(String(b.id));
      }
      const rows = await knex()('payments')
        .insert(
          bookingIds.map((b, i) => ({ booking_id: b, reference: `corrupt-${i}`, status: 'RELEASED', amount: 100, currency: 'ZAR', email: 'x@example.co.za' })),
        )
        .returning('id');
      const ids = rows.map((r: { id: string }) => String(r.id)).sort((x: string, y: string) => Number(x) - Number(y));
      try {
        const s = await summary();
        expect(failing(s)).toEqual(['released_have_one_payout']);
        const c = s.checks.find((x) => x.name === 'released_have_one_payout')!;
        expect(c.details.count).toBe(25);
        expect(c.details.paymentIds).toEqual(ids.slice(0, 20));
        expect(s.currencies.ZAR.released).toBe(129_778 + 2_500);
      } finally {
        await knex()('payments').whereIn('id', ids).del();
        await knex()('bookings').whereIn('id', bookingIds).del();
      }
      expect((await summary()).balanced).toBe(true);
    });
  });

  describe('GET /api/payments and /api/payouts', () => {
    const all = async (u: Actor, path: string, key: 'payments' | 'payouts', limit: number) => {
      const ids: string[] = [];
      const pages: number[] = [];
      let cursor: string | null = null;
      do {
        const res: request.Response = await u.get(`${path}?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`).expect(200);
        ids.push(...res.body[key].map((x: { id: string }) => x.id));
        pages.push(res.body[key].length);
        cursor = res.body.nextCursor;
      } while (cursor);
      return { ids, pages };
    };
    const paymentsOf = (...keys: string[]) => keys.map((k) => flows[k].payment).sort((a, b) => Number(b) - Number(a));
    const payoutsOf = (...keys: string[]) => keys.map((k) => flows[k].payout!).sort((a, b) => Number(b) - Number(a));

    it('pages newest first; each caller sees only their own rows', async () => {
      const everyPayment = (await knex()('payments').select('id').orderBy('id', 'desc')).map((r: { id: string }) => String(r.id));
      expect(everyPayment).toHaveLength(9);
      expect(await all(admin, '/api/payments', 'payments', 3)).toEqual({ ids: everyPayment, pages: [3, 3, 3] });
      expect(await all(ca, '/api/payments', 'payments', 2)).toEqual({ ids: paymentsOf('A', 'H', 'D'), pages: [2, 1] });
      expect((await all(cb, '/api/payments', 'payments', 20)).ids).toEqual(paymentsOf('B', 'E', 'C'));
      expect((await all(cc, '/api/payments', 'payments', 1)).ids).toEqual(paymentsOf('F', 'G'));
      expect((await all(cd, '/api/payments', 'payments', 1)).ids).toEqual(paymentsOf('I'));
      expect(await all(pa, '/api/payments', 'payments', 4)).toEqual({ ids: paymentsOf('A', 'B', 'D', 'E', 'F', 'G', 'I'), pages: [4, 3] });
      expect((await all(pb, '/api/payments', 'payments', 100)).ids).toEqual(paymentsOf('H', 'C'));

      expect(await all(admin, '/api/payouts', 'payouts', 2)).toEqual({ ids: payoutsOf('A', 'H', 'G', 'I'), pages: [2, 2] });
      expect((await all(pa, '/api/payouts', 'payouts', 1)).ids).toEqual(payoutsOf('A', 'G', 'I'));
      expect((await all(pb, '/api/payouts', 'payouts', 20)).ids).toEqual(payoutsOf('H'));
    });

    it('shows each item with its money in cents, and the reason of a failed payout', async () => {
      const iso = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const payments = (await ca.get('/api/payments').expect(200)).body;
      expect(payments.nextCursor).toBeNull();
      expect(payments.payments.find((p: { id: string }) => p.id === flows.A.payment)).toEqual({
        id: flows.A.payment,
        bookingId: flows.A.booking,
        reference: flows.A.reference,
        status: 'RELEASED',
        amount: 42_001,
        currency: 'ZAR',
        createdAt: iso,
        updatedAt: iso,
      });
      const payouts = (await pa.get('/api/payouts').expect(200)).body.payouts;
      const byId = Object.fromEntries(payouts.map((p: { id: string }) => [p.id, p]));
      expect(byId[flows.A.payout!]).toEqual({
        id: flows.A.payout,
        bookingId: flows.A.booking,
        reference: expect.stringMatching(/^payout_/),
        status: 'COMPLETED',
        amount: 40_950,
        currency: 'ZAR',
        createdAt: iso,
        updatedAt: iso,
      });
      expect(byId[flows.G.payout!]).toEqual(expect.objectContaining({ status: 'FAILED', amount: 75_832, currency: 'ZAR', reason: 'TRANSFER_REJECTED' }));
    });

    it('filters by status', async () => {
      const ids = async (u: Actor, path: string, key: string) => (await u.get(path).expect(200)).body[key].map((x: { id: string }) => x.id);
      expect(await ids(admin, '/api/payments?status=ESCROW', 'payments')).toEqual(paymentsOf('D'));
      expect(await ids(admin, '/api/payments?status=RELEASED&limit=100', 'payments')).toEqual(paymentsOf('A', 'H', 'G'));
      expect(await ids(cb, '/api/payments?status=FLAGGED', 'payments')).toEqual(paymentsOf('C'));
      expect(await ids(ca, '/api/payments?status=FLAGGED', 'payments')).toEqual([]);
      expect(await ids(admin, '/api/payouts?status=FAILED', 'payouts')).toEqual(payoutsOf('H', 'G', 'I'));
      expect(await ids(pa, '/api/payouts?status=FAILED', 'payouts')).toEqual(payoutsOf('G', 'I'));
      expect(await ids(cd, '/api/payments?status=REFUNDED', 'payments')).toEqual(paymentsOf('I'));
      expect(await ids(pb, '/api/payouts?status=COMPLETED', 'payouts')).toEqual([]);
    });

    it('refuses payouts to a client, and malformed queries with 400 VALIDATION_FAILED', async () => {
      const forbidden = await ca.get('/api/payouts').expect(403);
      expect(forbidden.body.error.code).toBe('FORBIDDEN');
      expect((await request(m.srv.url).get('/api/payments').expect(401)).body.error.code).toBe('AUTH_REQUIRED');
      const bad = [
        'limit=0',
        'limit=101',
        'limit=2.5',
        'limit=abc',
        'limit=',
        'limit=2&limit=3',
        'cursor=0',
        'cursor=abc',
        'cursor=-1',
        'status=escrow',
        'status=BOGUS',
        'unknown=1',
      ];
      for (const q of bad) {
        const res = await admin.get(`/api/payments?${q}`);
        expect([q, res.status, res.body.error?.code]).toEqual([q, 400, 'VALIDATION_FAILED']);
      }
      for (const q of [...bad, 'status=ESCROW']) {
        const res = await pa.get(`/api/payouts?${q}`);
        expect([q, res.status, res.body.error?.code]).toEqual([q, 400, 'VALIDATION_FAILED']);
      }
    });

    it('a cursor past the end gives an empty page', async () => {
      const res = await admin.get(`/api/payments?cursor=${flows.A.payment}`).expect(200);
      expect(res.body).toEqual({ payments: [], nextCursor: null });
    });
  });
});
