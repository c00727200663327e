import type { Knex } from 'knex';
import type { PaymentStatus, PayoutStatus } from '../contract/vocabulary';
import { insertJournalEntries } from './journal-repository';

/*
 * The double-entry journal: every money movement is an entry whose postings sum to zero, written
 * in the same transaction as the state change it records, in integer cents. A posting's amount is
 * a debit when positive and a credit when negative. The accounts, named for what they are:
 *
 *   paystack_balance     asset      what Paystack holds for us
 *   paystack_fees        expense    what Paystack kept of each charge
 *   escrow               liability  charges held for a booking until released or refunded
 *   unmatched_charges    liability  charges that did not match their booking (FLAGGED), until decided
 *   provider_payable     liability  released to a provider, not yet sent
 *   payouts_in_flight    liability  sent to a provider, not yet confirmed by the bank
 *   platform_revenue     income     the platform's fee on released money
 *   refunds_owed         liability  owed back to a client, refund requested
 *   chargeback_losses    expense    taken back by a card dispute after the provider was paid
 *
 * Entries are derived from a state move and its amounts by the pure functions below, so the
 * rules can be read (and tested) apart from the SQL; journal-check.ts compares the state tables
 * with what the journal holds, independently of this file.
 */

export const Account = [
  'paystack_balance',
  'paystack_fees',
  'escrow',
  'unmatched_charges',
  'provider_payable',
  'payouts_in_flight',
  'platform_revenue',
  'refunds_owed',
  'chargeback_losses',
] as const;
export type Account = (typeof Account)[number];

export interface Posting {
  account: Account;
  amount: number;
}

export interface EntryDraft {
  kind: string;
  postings: Posting[];
}

const move = (kind: string, amount: number, debit: Account, credit: Account): EntryDraft => ({
  kind,
  postings: [
    { account: debit, amount },
    { account: credit, amount: -amount },
  ],
});

/** The facts of a payment a move needs: its amounts, what Paystack verified and kept, and its payout's share. */
export interface PaymentMoney {
  /** The whole charge. */
  amount: number;
  /** What is left of it after partial refunds and chargebacks (payment-amounts.ts); the whole charge when absent. */
  held?: number;
  /** For a refund: what it brings back; all that is held when absent. */
  owed?: number;
  verifiedAmount: number | null;
  fees: number | null;
  /** For a release or its reversal: the provider's share (the rest is the platform's). */
  payoutAmount?: number;
}

/** The entries a payment's move from `from` to `to` makes; none when no money moves. */
export function paymentEntries(from: PaymentStatus, to: PaymentStatus, m: PaymentMoney): EntryDraft[] {
  const a = m.amount;
  const held = m.held ?? a;
  const owed = m.owed ?? held;
  const received = (credit: Account, amount: number): EntryDraft[] => [
    move('charge_received', amount, 'paystack_balance', credit),
    ...(m.fees ? [move('paystack_fee', m.fees, 'paystack_fees', 'paystack_balance')] : []),
  ];
  const released = (kind: string, sign: 1 | -1): EntryDraft => {
    const provider = m.payoutAmount ?? held;
    return {
      kind,
      postings: [
        { account: 'escrow', amount: sign * held },
        { account: 'provider_payable', amount: -sign * provider },
        { account: 'platform_revenue', amount: -sign * (held - provider) },
      ],
    };
  };
  switch (`${from}>${to}`) {
    case 'PENDING>PAID':
      return received('escrow', a);
    case 'PENDING>FLAGGED':
      return m.verifiedAmount ? received('unmatched_charges', m.verifiedAmount) : [];
    case 'FLAGGED>ESCROW':
      return [move('flagged_accepted', a, 'unmatched_charges', 'escrow')];
    case 'FLAGGED>REFUND_PENDING':
      return m.verifiedAmount ? [move('refund_requested', m.verifiedAmount, 'unmatched_charges', 'refunds_owed')] : [];
    case 'PAID>FLAGGED':
      return [move('charge_flagged', a, 'escrow', 'unmatched_charges')];
    case 'PAID>REFUND_PENDING':
    case 'ESCROW>REFUND_PENDING':
      return [move('refund_requested', owed, 'escrow', 'refunds_owed')];
    case 'ESCROW>REFUNDED':
      // A card dispute the customer won, straight out of escrow (refunds are journaled by refundPaidEntries).
      return [move('chargeback', held, 'escrow', 'paystack_balance')];
    case 'ESCROW>RELEASED':
      return [released('escrow_released', 1)];
    case 'RELEASED>REFUNDED':
      // A card dispute the customer won before the payout went out: the release is undone and the bank takes the charge back.
      return [released('release_reversed', -1), move('chargeback', held, 'escrow', 'paystack_balance')];
    default:
      // PAID>ESCROW (the same money, now held), PENDING>EXPIRED and PENDING>FAILED move nothing;
      // REFUND_PENDING>REFUNDED and REFUND_PENDING>ESCROW are the refund's processing, journaled by refundPaidEntries.
      return [];
  }
}

/** The entries a payout's move from `from` to `to` makes. */
export function payoutEntries(from: PayoutStatus, to: PayoutStatus, amount: number): EntryDraft[] {
  const sent = move('payout_sent', amount, 'provider_payable', 'payouts_in_flight');
  const completed = move('payout_completed', amount, 'payouts_in_flight', 'paystack_balance');
  const back = move('payout_failed', amount, 'payouts_in_flight', 'provider_payable');
  switch (`${from}>${to}`) {
    case 'PENDING>PROCESSING':
      return [sent];
    case 'PENDING>COMPLETED':
      return [sent, completed];
    case 'PROCESSING>COMPLETED':
      return [completed];
    case 'PROCESSING>FAILED':
    case 'PROCESSING>REVERSED':
      return [back];
    case 'COMPLETED>REVERSED':
      return [move('payout_reversed', amount, 'paystack_balance', 'provider_payable')];
    default:
      // PENDING>FAILED or PENDING>REVERSED: nothing was sent. FAILED|REVERSED>PENDING: still owed.
      return [];
  }
}

/**
 * Refunds Paystack processed: what the pending request owed comes out of refunds_owed, anything
 * beyond it (a refund made in Paystack's dashboard) straight out of escrow.
 */
export function refundPaidEntries(fromOwed: number, fromEscrow: number): EntryDraft[] {
  return [
    ...(fromOwed > 0 ? [move('refund_paid', fromOwed, 'refunds_owed', 'paystack_balance')] : []),
    ...(fromEscrow > 0 ? [move('refund_paid', fromEscrow, 'escrow', 'paystack_balance')] : []),
  ];
}

/**
 * Part of a charge taken back by a card dispute before the payout went out. From escrow; or, once
 * released, from the waiting payout (reduced by `payoutCut`) and the platform's fee (the rest).
 */
export function partialChargebackEntry(amount: number, released: { payoutCut: number } | null): EntryDraft {
  if (!released) return move('chargeback', amount, 'escrow', 'paystack_balance');
  return {
    kind: 'chargeback',
    postings: [
      { account: 'provider_payable', amount: released.payoutCut },
      { account: 'platform_revenue', amount: amount - released.payoutCut },
      { account: 'paystack_balance', amount: -amount },
    ],
  };
}

/** A card dispute lost after the provider was paid: the bank takes the charge back, and it is our loss. */
export function chargebackLossEntry(amount: number): EntryDraft {
  return move('chargeback_loss', amount, 'chargeback_losses', 'paystack_balance');
}

export interface EntrySubject {
  bookingId: string;
  paymentId: string;
  payoutId?: string | null;
  currency: string;
}

/** Writes the entries, in the caller's transaction. Refuses (throws) an entry that does not balance. */
export async function post(trx: Knex.Transaction, subject: EntrySubject, entries: readonly EntryDraft[]): Promise<void> {
  for (const e of entries) {
    const sum = e.postings.reduce((s, p) => s + p.amount, 0);
    if (sum !== 0 || e.postings.some((p) => !Number.isSafeInteger(p.amount))) {
      throw new Error(`journal entry ${e.kind} does not balance: ${JSON.stringify(e.postings)}`);
    }
  }
  const nonZero = entries.map((e) => ({ ...e, postings: e.postings.filter((p) => p.amount !== 0) })).filter((e) => e.postings.length);
  await insertJournalEntries(trx, subject, nonZero);
}
