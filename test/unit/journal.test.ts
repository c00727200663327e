import { canMovePayment } from '../../src/payments/payment-state';
import { PaymentStatus, PayoutStatus } from '../../src/contract/vocabulary';
import { canMovePayout } from '../../src/payments/payout-state';
import { chargebackLossEntry, partialChargebackEntry, paymentEntries, payoutEntries, refundPaidEntries, type EntryDraft } from '../../src/payments/journal';
import { payoutAmount } from '../../src/payments/escrow';
import { heldAmount, owedAmount } from '../../src/payments/payment-amounts';

const sum = (e: EntryDraft) => e.postings.reduce((s, p) => s + p.amount, 0);
const balanceOf = (entries: EntryDraft[], account: string) =>
  entries
    .flatMap((e) => e.postings)
    .filter((p) => p.account === account)
    .reduce((s, p) => s + p.amount, 0);

describe('journal entries', () => {
  const money = { amount: 100_000, verifiedAmount: 100_000, fees: 3_000, payoutAmount: 95_000 };

  it('every entry of every allowed move balances', () => {
    for (const from of PaymentStatus.options) {
      for (const to of PaymentStatus.options) {
        if (!canMovePayment(from, to)) continue;
        for (const e of paymentEntries(from, to, money)) expect([`${from}>${to}`, e.kind, sum(e)]).toEqual([`${from}>${to}`, e.kind, 0]);
      }
    }
    for (const from of PayoutStatus.options) {
      for (const to of PayoutStatus.options) {
        if (!canMovePayout(from, to)) continue;
        for (const e of payoutEntries(from, to, 95_000)) expect([`${from}>${to}`, e.kind, sum(e)]).toEqual([`${from}>${to}`, e.kind, 0]);
      }
    }
    expect(sum(chargebackLossEntry(100_000))).toBe(0);
  });

  it('a booking paid, released and paid out leaves nothing in escrow or owed, the fee as revenue', () => {
    const entries = [
      ...paymentEntries('PENDING', 'PAID', money),
      ...paymentEntries('PAID', 'ESCROW', money),
      ...paymentEntries('ESCROW', 'RELEASED', money),
      ...payoutEntries('PENDING', 'PROCESSING', 95_000),
      ...payoutEntries('PROCESSING', 'COMPLETED', 95_000),
    ];
    expect(balanceOf(entries, 'escrow')).toBe(0);
    expect(balanceOf(entries, 'provider_payable')).toBe(0);
    expect(balanceOf(entries, 'payouts_in_flight')).toBe(0);
    expect(balanceOf(entries, 'platform_revenue')).toBe(-5_000);
    expect(balanceOf(entries, 'paystack_fees')).toBe(3_000);
    expect(balanceOf(entries, 'paystack_balance')).toBe(100_000 - 3_000 - 95_000);
  });

  it('a lost card dispute before the payout undoes the release; a failed payout is owed again', () => {
    const entries = [
      ...paymentEntries('PENDING', 'PAID', money),
      ...paymentEntries('ESCROW', 'RELEASED', money),
      ...paymentEntries('RELEASED', 'REFUNDED', money),
    ];
    for (const account of ['escrow', 'provider_payable', 'platform_revenue']) expect([account, balanceOf(entries, account)]).toEqual([account, 0]);
    const failed = [...payoutEntries('PENDING', 'PROCESSING', 95_000), ...payoutEntries('PROCESSING', 'FAILED', 95_000)];
    // Sent and failed cancel out: the payout is owed again, as the release left it.
    expect(balanceOf(failed, 'provider_payable')).toBe(0);
    expect(balanceOf(failed, 'payouts_in_flight')).toBe(0);
    // Nothing moves for a payout that never went out, nor for a checkout that expired.
    expect(payoutEntries('PENDING', 'FAILED', 95_000)).toEqual([]);
    expect(paymentEntries('PENDING', 'EXPIRED', money)).toEqual([]);
  });

  it('a partial refund, then a partial dispute while the payout waits: escrow empties, revenue and payout shrink by their shares', () => {
    // R1,000 paid; an operator refunds R400 of it (requested, then processed).
    const afterRefund = { amount: 100_000, refunded: 40_000, chargedBack: 0, refundTarget: null };
    const entries = [
      ...paymentEntries('PENDING', 'PAID', money),
      ...paymentEntries('ESCROW', 'REFUND_PENDING', { ...money, owed: owedAmount({ ...afterRefund, refunded: 0, refundTarget: 40_000 }) }),
      ...refundPaidEntries(40_000, 0),
    ];
    expect(balanceOf(entries, 'refunds_owed')).toBe(0);
    expect(balanceOf(entries, 'escrow')).toBe(-60_000);
    // The rest is released: R570 to the provider at 5%.
    const held = heldAmount(afterRefund);
    const payout = payoutAmount(held, 500);
    entries.push(...paymentEntries('ESCROW', 'RELEASED', { ...money, held, payoutAmount: payout }));
    expect(balanceOf(entries, 'escrow')).toBe(0);
    // The bank takes back R200 of it before the transfer: the payout is cut to its share of the rest.
    const smaller = payoutAmount(held - 20_000, 500);
    const cut = partialChargebackEntry(20_000, { payoutCut: payout - smaller });
    expect(sum(cut)).toBe(0);
    entries.push(cut);
    expect(balanceOf(entries, 'provider_payable')).toBe(-smaller);
    expect(balanceOf(entries, 'platform_revenue')).toBe(-(held - 20_000 - smaller));
    expect(balanceOf(entries, 'paystack_balance')).toBe(100_000 - 3_000 - 40_000 - 20_000);
    // A refund made in Paystack's dashboard comes out of escrow directly.
    expect(refundPaidEntries(0, 5_000).map((e) => e.postings)).toEqual([
      [
        { account: 'escrow', amount: 5_000 },
        { account: 'paystack_balance', amount: -5_000 },
      ],
    ]);
  });
});
