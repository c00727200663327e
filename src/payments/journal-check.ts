import type { Db } from '../storage/db';
import { accountBalances, balancesBy, moneyStates, unbalancedEntries } from './journal-repository';

/*
 * The independent check: what each payment's and payout's state says the journal must hold for
 * it, against what the journal holds. It reads the state tables and sums postings; it shares no
 * code with journal.ts, which writes the entries, so a move made without its entry (or an entry
 * made without its move) shows as a mismatch naming the row.
 */

export interface JournalMismatch {
  kind: 'payment' | 'payout' | 'entry';
  id: string;
  account: string;
  expected: number;
  actual: number;
}

export interface JournalReport {
  /** Every entry sums to zero, and every payment and payout holds what its state says. */
  balanced: boolean;
  /** Per currency and account; debits positive, credits negative. */
  accounts: Record<string, Record<string, number>>;
  /** Per currency: the platform's fees less what Paystack kept. */
  margin: Record<string, number>;
  mismatches: JournalMismatch[];
}

/** Statuses in which the client's money has been received. */
const RECEIVED = new Set(['PAID', 'ESCROW', 'RELEASED', 'REFUND_PENDING', 'REFUNDED', 'FLAGGED']);
const MAX_SHOWN = 50;

export async function checkJournal(db: Db): Promise<JournalReport> {
  const [states, byPayment, byPayout, totals, unbalanced] = [
    await moneyStates(db),
    await balancesBy(db, 'payment'),
    await balancesBy(db, 'payout'),
    await accountBalances(db),
    await unbalancedEntries(db),
  ];
  const held = (rows: Array<{ id: string; account: string; balance: string }>) => {
    const m = new Map<string, number>();
    for (const r of rows) m.set(`${r.id}:${r.account}`, Number(r.balance));
    return (id: string, account: string) => m.get(`${id}:${account}`) ?? 0;
  };
  const paymentHolds = held(byPayment);
  const payoutHolds = held(byPayout);
  const mismatches: JournalMismatch[] = unbalanced.map((u) => ({ kind: 'entry', id: u.id, account: '*', expected: 0, actual: Number(u.sum) }));
  const expect = (kind: 'payment' | 'payout', id: string, account: string, expected: number, actual: number) => {
    if (expected !== actual) mismatches.push({ kind, id, account, expected, actual });
  };

  for (const p of states.payments) {
    const a = Number(p.amount);
    const verified = p.verified_amount === null ? 0 : Number(p.verified_amount);
    const received = RECEIVED.has(p.status) && (p.status !== 'FLAGGED' || verified > 0);
    // What partial refunds and chargebacks left of the charge, and what a pending refund still owes.
    const refunded = Number(p.refunded_amount);
    const held = a - refunded - Number(p.charged_back_amount);
    const owed = p.status === 'REFUND_PENDING' ? (p.refund_target === null ? held : Number(p.refund_target) - refunded) : 0;
    const inEscrow = p.status === 'PAID' || p.status === 'ESCROW' || p.status === 'REFUND_PENDING' ? held - owed : 0;
    expect('payment', p.id, 'escrow', -inEscrow, paymentHolds(p.id, 'escrow'));
    expect('payment', p.id, 'unmatched_charges', p.status === 'FLAGGED' ? -verified : 0, paymentHolds(p.id, 'unmatched_charges'));
    expect('payment', p.id, 'refunds_owed', -owed, paymentHolds(p.id, 'refunds_owed'));
    const fee = p.status === 'RELEASED' && p.payout_amount !== null ? held - Number(p.payout_amount) : 0;
    expect('payment', p.id, 'platform_revenue', -fee, paymentHolds(p.id, 'platform_revenue'));
    expect('payment', p.id, 'paystack_fees', received ? Number(p.paystack_fees ?? 0) : 0, paymentHolds(p.id, 'paystack_fees'));
    expect('payment', p.id, 'chargeback_losses', Number(p.chargeback_loss ?? 0), paymentHolds(p.id, 'chargeback_losses'));
  }
  for (const o of states.payouts) {
    const amount = Number(o.amount);
    const owed = o.status === 'PENDING' || ((o.status === 'FAILED' || o.status === 'REVERSED') && o.payment_status === 'RELEASED');
    expect('payout', o.id, 'provider_payable', owed ? -amount : 0, payoutHolds(o.id, 'provider_payable'));
    expect('payout', o.id, 'payouts_in_flight', o.status === 'PROCESSING' ? -amount : 0, payoutHolds(o.id, 'payouts_in_flight'));
  }

  const accounts: Record<string, Record<string, number>> = {};
  for (const t of totals) (accounts[t.currency] ??= {})[t.account] = Number(t.balance);
  const margin: Record<string, number> = {};
  for (const [currency, a] of Object.entries(accounts)) margin[currency] = -(a.platform_revenue ?? 0) - (a.paystack_fees ?? 0);
  for (const [currency, a] of Object.entries(accounts)) {
    const total = Object.values(a).reduce((s, v) => s + v, 0);
    if (total !== 0) mismatches.push({ kind: 'entry', id: currency, account: '*', expected: 0, actual: total });
  }
  mismatches.sort((x, y) => x.kind.localeCompare(y.kind) || Number(x.id) - Number(y.id) || x.account.localeCompare(y.account));
  return { balanced: mismatches.length === 0, accounts, margin, mismatches: mismatches.slice(0, MAX_SHOWN) };
}
