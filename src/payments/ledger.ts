import type { Knex } from 'knex';
import { PaymentStatus, PayoutStatus } from '../contract/vocabulary';
import { inReadOnlySnapshot } from '../storage/snapshot-repository';
import { payoutAmount } from './escrow';
import { checkJournal, type JournalReport } from './journal-check';
import { readLedgerFacts, type LedgerFacts, type Offenders } from './ledger-repository';

/*
 * The money ledger, computed from the database on demand: what came in, where it is now, what went
 * out, and checks that the rows agree with the escrow rules. Amounts are integer cents. Sums are
 * taken in SQL and read as text, then as numbers: exact while below 2^53 cents (about
 * R90 trillion); beyond that `cents()` throws rather than answer a rounded figure.
 *
 * Where a payment's money is, by its status:
 *   PENDING, FAILED, EXPIRED not received (nothing was charged, the charge failed, or the checkout expired)
 *   PAID, ESCROW             inEscrow: received, held for the booking
 *   RELEASED                 released: escrow let go; the provider's share is its payout, the rest is the fee
 *   REFUND_PENDING           refundPending: owed back to the client, refund requested
 *   REFUNDED                 refunded: back with the client (a refund, or a card dispute the customer
 *                            won, even after release: then its payout, if any, must be FAILED/REVERSED)
 *   FLAGGED                  flagged: Paystack reported a charge that did not match our record; held
 *                            for an operator. Counted here as received AT OUR RECORDED AMOUNT; what
 *                            Paystack verified is kept on the payment (verified_amount) and is what
 *                            the journal holds. A charge whose verify status was not `success` is
 *                            flagged too, with nothing verified.
 * `received` is every payment that is neither PENDING, FAILED nor EXPIRED, so a payment in a status outside
 * the table above lands in `received` but in no bucket, and check (a) names it.
 */

export type PaymentBucket = 'inEscrow' | 'released' | 'refundPending' | 'refunded' | 'flagged';

/** Exhaustive: a new payment status does not compile until it is placed. */
export const PAYMENT_BUCKET: Readonly<Record<PaymentStatus, PaymentBucket | null>> = {
  PENDING: null,
  FAILED: null,
  EXPIRED: null,
  PAID: 'inEscrow',
  ESCROW: 'inEscrow',
  RELEASED: 'released',
  REFUND_PENDING: 'refundPending',
  REFUNDED: 'refunded',
  FLAGGED: 'flagged',
};

/** The statuses whose money was never received. */
export const NOT_RECEIVED: readonly string[] = PaymentStatus.options.filter((s) => PAYMENT_BUCKET[s] === null);

type PayoutKey = 'pending' | 'processing' | 'completed' | 'failed' | 'reversed';
export const PAYOUT_KEY: Readonly<Record<PayoutStatus, PayoutKey>> = {
  PENDING: 'pending',
  PROCESSING: 'processing',
  COMPLETED: 'completed',
  FAILED: 'failed',
  REVERSED: 'reversed',
};

export interface CurrencyLedger {
  received: number;
  inEscrow: number;
  released: number;
  refundPending: number;
  refunded: number;
  flagged: number;
  /** Payout amounts by payout status (a payout's currency is its payment's). */
  payouts: Record<PayoutKey, number>;
  /** The platform's share: released minus the payouts of released payments (whatever their status). */
  fees: number;
}

export type LedgerCheckName =
  | 'received_equals_buckets'
  | 'released_have_one_payout'
  | 'payout_within_payment_less_fee'
  | 'payouts_only_for_released'
  | 'amounts_positive_integers'
  | 'payouts_match_payments';

export interface LedgerCheck {
  name: LedgerCheckName;
  ok: boolean;
  description: string;
  /** `count` offending rows in all; at most OFFENDERS_SHOWN (ledger-repository.ts) ids of each kind, smallest first. */
  details: {
    count: number;
    paymentIds: string[];
    payoutIds: string[];
    /** (a): the currencies whose received total differs from the sum of its buckets. */
    currencies?: string[];
    /** (c): each listed payout with its payment's amount and the most it may be (payoutAmount). */
    payouts?: Array<{ payoutId: string; paymentId: string; amount: number; paymentAmount: number; maximum: number }>;
  };
}

export interface LedgerSummary {
  asOf: string;
  feeBps: number;
  currencies: Record<string, CurrencyLedger>;
  checks: LedgerCheck[];
  /** Every check passed, and the journal agrees with the state tables. */
  balanced: boolean;
  /** The double-entry journal: balances per account, the platform's margin, and every row it disagrees with. */
  journal: JournalReport;
}

/** A SQL sum or count (text, or null for an empty sum) as integer cents; throws past 2^53. */
export function cents(v: string | number | null | undefined): number {
  if (v === null || v === undefined) return 0;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new RangeError(`Ledger amount ${String(v)} is not an exact integer below 2^53`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// The summary: pure

const emptyCurrency = (): CurrencyLedger => ({
  received: 0,
  inEscrow: 0,
  released: 0,
  refundPending: 0,
  refunded: 0,
  flagged: 0,
  payouts: { pending: 0, processing: 0, completed: 0, failed: 0, reversed: 0 },
  fees: 0,
});

const isPaymentStatus = (s: string): s is PaymentStatus => (PaymentStatus.options as readonly string[]).includes(s);
const isPayoutStatus = (s: string): s is PayoutStatus => (PayoutStatus.options as readonly string[]).includes(s);

export function summarize(facts: LedgerFacts, feeBps: number, asOf: Date = new Date()): Omit<LedgerSummary, 'journal'> {
  const currencies: Record<string, CurrencyLedger> = {};
  const of = (c: string) => (currencies[c] ??= emptyCurrency());

  for (const r of facts.payments) {
    const c = of(r.currency);
    const amount = cents(r.total);
    if (!NOT_RECEIVED.includes(r.status)) c.received += amount;
    const bucket = isPaymentStatus(r.status) ? PAYMENT_BUCKET[r.status] : null;
    if (bucket) c[bucket] += amount;
  }
  for (const r of facts.payouts) {
    // An unknown payout status is counted nowhere here; check (f) names it.
    if (isPayoutStatus(r.status)) of(r.currency).payouts[PAYOUT_KEY[r.status]] += cents(r.total);
  }
  const paidOut: Record<string, number> = {};
  for (const r of facts.releasedPayouts) paidOut[r.currency] = cents(r.total);
  for (const [code, c] of Object.entries(currencies)) c.fees = c.released - (paidOut[code] ?? 0);

  const unbalanced = Object.entries(currencies)
    .filter(([, c]) => c.received !== c.inEscrow + c.released + c.refundPending + c.refunded + c.flagged)
    .map(([code]) => code);

  const check = (name: LedgerCheckName, description: string, o: Offenders, extra: Partial<LedgerCheck['details']> = {}): LedgerCheck => ({
    name,
    ok: o.count === 0 && (extra.currencies?.length ?? 0) === 0,
    description,
    details: { count: o.count, paymentIds: o.paymentIds, payoutIds: o.payoutIds, ...extra },
  });
  const over = facts.payoutsOverMaximum;
  const checks: LedgerCheck[] = [
    check(
      'received_equals_buckets',
      'received = inEscrow + released + refundPending + refunded + flagged, per currency; ids: payments in an unknown status',
      facts.unknownPaymentStatuses,
      { currencies: unbalanced },
    ),
    check('released_have_one_payout', 'every RELEASED payment has exactly one payout', facts.releasedWithoutOnePayout),
    check(
      'payout_within_payment_less_fee',
      `no payout exceeds its payment less the fee it was made with (PLATFORM_FEE_BPS ${feeBps} where none was stored), rounded up`,
      over,
      {
        payouts: over.rows.map((r) => ({
          payoutId: r.payoutId,
          paymentId: r.paymentId,
          amount: cents(r.amount),
          paymentAmount: cents(r.paymentAmount),
          maximum: payoutAmount(cents(r.paymentAmount), Number(r.feeBps)),
        })),
      },
    ),
    check(
      'payouts_only_for_released',
      'no payout exists for a payment that is not RELEASED, but a FAILED or REVERSED one of a REFUNDED payment (a dispute the customer won before the transfer)',
      facts.payoutsForUnreleased,
    ),
    check('amounts_positive_integers', 'every payment and payout amount is a positive integer of cents', facts.nonPositiveAmounts),
    check(
      'payouts_match_payments',
      "every payout has its payment's booking and currency, the booking's provider, and a known status",
      facts.payoutsNotMatchingPayment,
    ),
  ];
  return { asOf: asOf.toISOString(), feeBps, currencies, checks, balanced: checks.every((c) => c.ok) };
}

/** GET /api/ledger/summary: every figure, and the journal's check, from one consistent, read-only snapshot. */
export async function ledgerSummary(knex: Knex, feeBps: number): Promise<LedgerSummary> {
  const { facts, journal } = await inReadOnlySnapshot(knex, async (trx) => ({ facts: await readLedgerFacts(trx, feeBps), journal: await checkJournal(trx) }));
  const summary = summarize(facts, feeBps);
  return { ...summary, balanced: summary.balanced && journal.balanced, journal };
}
