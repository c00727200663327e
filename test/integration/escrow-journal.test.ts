import { describeDb } from '../support/test-db';
import { type Actor, type ConfirmedBooking, type Marketplace, postCardDispute, startMarketplace } from '../support/marketplace';
import { up as openJournalBalances } from '../../migrations/20261207000002_open_journal_balances';

const FEE_BPS = 500;

type Mismatch = { kind: string; id: string; account: string; expected: number; actual: number };
type Journal = { balanced: boolean; accounts: Record<string, Record<string, number>>; margin: Record<string, number>; mismatches: Mismatch[] };

/** The double-entry journal: every movement an entry that balances, and a check that catches a mistake. */
describeDb('escrow: the double-entry journal', () => {
  let m: Marketplace;
  let ops: Actor;
  beforeAll(async () => {
    m = await startMarketplace({ PLATFORM_FEE_BPS: String(FEE_BPS), RECONCILE_INTERVAL_MS: '3600000' });
    ops = m.user('journal-ops', 'admin');
  });
  afterAll(() => m.stop());
  const knex = () => m.srv.db.database.knex;
  const journal = async (): Promise<Journal> => (await ops.get('/api/ledger/summary').expect(200)).body.journal;
  const paymentOf = (reference: string) => knex()('payments').where({ reference }).first();
  const entriesOf = async (paymentId: string) =>
    (await knex()('journal_entries').where({ payment_id: paymentId }).orderBy('id')).map((e: { kind: string }) => e.kind);

  async function released(prefix: string, amount: number): Promise<ConfirmedBooking & { paymentId: string; payoutReference: string }> {
    const c = await m.confirmedBookingWithPayment({ prefix, amount });
    await m.paystack.completeCharge(c.reference);
    await c.provider.post(`/api/bookings/${c.id}/start`).expect(200);
    await c.provider.post(`/api/bookings/${c.id}/complete`).expect(200);
    await c.client.post(`/api/bookings/${c.id}/confirm-completion`).expect(200);
    const payout = await knex()('payouts').where({ booking_id: c.id }).first();
    return { ...c, paymentId: String((await paymentOf(c.reference)).id), payoutReference: payout.reference };
  }

  it('journals a whole booking: charge, Paystack fee, release with the platform fee, payout sent and completed', async () => {
    const before = await journal();
    const c = await released('jr-flow', 100_000);
    await m.paystack.settleTransfer(c.payoutReference, 'success');
    const payment = await paymentOf(c.reference);
    const fees = Number(payment.paystack_fees);
    expect(fees).toBeGreaterThan(0);
    expect(await entriesOf(c.paymentId)).toEqual(['charge_received', 'paystack_fee', 'escrow_released', 'payout_sent', 'payout_completed']);
    const payout = await knex()('payouts').where({ booking_id: c.id }).first();
    expect(payout).toEqual(expect.objectContaining({ fee_bps: FEE_BPS, amount: '95000', status: 'COMPLETED' }));

    const after = await journal();
    expect(after.balanced).toBe(true);
    const delta = (account: string) => (after.accounts.ZAR?.[account] ?? 0) - (before.accounts.ZAR?.[account] ?? 0);
    expect(delta('escrow')).toBe(0);
    expect(delta('provider_payable')).toBe(0);
    expect(delta('payouts_in_flight')).toBe(0);
    expect(delta('platform_revenue')).toBe(-5_000);
    expect(delta('paystack_fees')).toBe(fees);
    expect(delta('paystack_balance')).toBe(100_000 - fees - 95_000);
    // The platform's margin: its fee less what Paystack kept.
    expect(after.margin.ZAR - (before.margin.ZAR ?? 0)).toBe(5_000 - fees);
  });

  it('opens the balances of payments that moved before the journal existed (the migration), once', async () => {
    const paid = await released('jr-open', 40_000);
    const held = await m.confirmedBookingWithPayment({ prefix: 'jr-open-held', amount: 25_000 });
    await m.paystack.completeCharge(held.reference);
    const heldId = String((await paymentOf(held.reference)).id);
    // As a database from before the journal: the money moved, nothing was journaled.
    const forget = knex()('journal_entries').whereIn('payment_id', [paid.paymentId, heldId]).select('id');
    await knex()('journal_postings').whereIn('entry_id', forget).delete();
    await knex()('journal_entries').whereIn('payment_id', [paid.paymentId, heldId]).delete();
    expect((await journal()).mismatches.map((x) => x.id)).toEqual(expect.arrayContaining([paid.paymentId, heldId]));

    await openJournalBalances(knex());
    await openJournalBalances(knex());
    expect(await journal()).toEqual(expect.objectContaining({ balanced: true, mismatches: [] }));
    expect(await entriesOf(paid.paymentId)).toEqual(['opening_balance']);
    expect(await entriesOf(heldId)).toEqual(['opening_balance']);
    // From there on, moves are journaled as usual.
    await m.paystack.settleTransfer(paid.payoutReference, 'success');
    expect((await journal()).balanced).toBe(true);
  });

  it('names a payment whose state changed without its journal entry', async () => {
    const c = await m.confirmedBookingWithPayment({ prefix: 'jr-nostate', amount: 20_000 });
    await m.paystack.completeCharge(c.reference);
    const payment = await paymentOf(c.reference);
    await knex()('payments').where({ id: payment.id }).update({ status: 'REFUND_PENDING' });
    try {
      const j = await journal();
      expect(j.balanced).toBe(false);
      expect(j.mismatches).toEqual(
        expect.arrayContaining([
          { kind: 'payment', id: String(payment.id), account: 'escrow', expected: 0, actual: -20_000 },
          { kind: 'payment', id: String(payment.id), account: 'refunds_owed', expected: -20_000, actual: 0 },
        ]),
      );
      expect((await ops.get('/api/ledger/summary').expect(200)).body.balanced).toBe(false);
    } finally {
      await knex()('payments').where({ id: payment.id }).update({ status: 'ESCROW' });
    }
    expect((await journal()).mismatches).toEqual([]);
  });

  it('names a payment with a journal entry its state does not have', async () => {
    const c = await m.confirmedBookingWithPayment({ prefix: 'jr-noentry', amount: 30_000 });
    await m.paystack.completeCharge(c.reference);
    const payment = await paymentOf(c.reference);
    const [{ id }] = await knex()('journal_entries')
      .insert({ kind: 'refund_requested', booking_id: c.id, payment_id: payment.id, currency: 'ZAR' })
      .returning('id');
    await knex()('journal_postings').insert([
      { entry_id: id, account: 'escrow', amount: 30_000 },
      { entry_id: id, account: 'refunds_owed', amount: -30_000 },
    ]);
    try {
      const j = await journal();
      expect(j.mismatches).toEqual(
        expect.arrayContaining([
          { kind: 'payment', id: String(payment.id), account: 'escrow', expected: -30_000, actual: 0 },
          { kind: 'payment', id: String(payment.id), account: 'refunds_owed', expected: 0, actual: -30_000 },
        ]),
      );
      // A posting on its own: the entry no longer sums to zero.
      await knex()('journal_postings').insert({ entry_id: id, account: 'escrow', amount: 1 });
      expect((await journal()).mismatches).toEqual(expect.arrayContaining([{ kind: 'entry', id: String(id), account: '*', expected: 0, actual: 1 }]));
    } finally {
      await knex()('journal_postings').where({ entry_id: id }).del();
      await knex()('journal_entries').where({ id }).del();
    }
    expect((await journal()).mismatches).toEqual([]);
  });

  it('records a card dispute lost after the payout went out as a chargeback loss, and raises it', async () => {
    const c = await released('jr-chargeback', 40_000);
    await m.paystack.settleTransfer(c.payoutReference, 'success');
    const dispute = (event: string, extra: object = {}) =>
      postCardDispute(m, event, { id: 55_000 + Number(c.id), reference: c.reference, amount: 40_000 }, extra);
    await dispute('charge.dispute.create');
    await dispute('charge.dispute.resolve', { resolution: 'auto-accepted' });
    const payment = await paymentOf(c.reference);
    expect(payment.chargeback_at).not.toBeNull();
    expect(await entriesOf(c.paymentId)).toContain('chargeback_loss');
    const attention = (await ops.get('/api/ops/attention').expect(200)).body.items.filter((i: { bookingId: string }) => i.bookingId === c.id);
    expect(attention.map((i: { reason: string }) => i.reason)).toEqual(['CHARGEBACK_LOSS']);
    const j = await journal();
    expect(j.mismatches).toEqual([]);
    expect(j.accounts.ZAR.chargeback_losses).toBeGreaterThanOrEqual(40_000);
  });

  it('balances a refund, and a payout that failed and was retried', async () => {
    // Refunded: cancelled after payment.
    const r = await m.confirmedBookingWithPayment({ prefix: 'jr-refund', amount: 15_000 });
    await m.paystack.completeCharge(r.reference);
    await r.client.post(`/api/bookings/${r.id}/cancel`).expect(200);
    await m.paystack.processRefund(r.reference);
    expect(await entriesOf(String((await paymentOf(r.reference)).id))).toEqual(['charge_received', 'paystack_fee', 'refund_requested', 'refund_paid']);
    // Failed, then retried by an admin and completed.
    const f = await released('jr-fail', 25_000);
    await m.paystack.settleTransfer(f.payoutReference, 'failed');
    const payout = await knex()('payouts').where({ booking_id: f.id }).first();
    await ops.post(`/api/payouts/${payout.id}/retry`).expect(200);
    const retried = await knex()('payouts').where({ id: payout.id }).first();
    await m.paystack.settleTransfer(retried.reference, 'success');
    expect(await entriesOf(f.paymentId)).toEqual([
      'charge_received',
      'paystack_fee',
      'escrow_released',
      'payout_sent',
      'payout_failed',
      'payout_sent',
      'payout_completed',
    ]);
    expect((await journal()).mismatches).toEqual([]);
  });
});
