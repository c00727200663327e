import type { Knex } from 'knex';
import { pageOf } from '../storage/paging';
import { z } from 'zod';
import type { Db } from '../storage/db';
import { RowId } from '../http/ids';
import { payoutAmount } from './escrow';
import { PaymentStatus, PayoutStatus } from '../contract/vocabulary';
import type { PaymentItem, PayoutItem } from '../contract/views';
export type { PaymentItem, PayoutItem };
import { checkJournal, type JournalReport } from './journal-check';

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

/** Payout statuses in which no money reached the provider (or it came back). */
export const SETTLED_WITHOUT_MONEY: readonly PayoutStatus[] = ['FAILED', 'REVERSED'];

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
  /** `count` offending rows in all; at most OFFENDERS_SHOWN ids of each kind, smallest first. */
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

export const OFFENDERS_SHOWN = 20;

/** A SQL sum or count (text, or null for an empty sum) as integer cents; throws past 2^53. */
export function cents(v: string | number | null | undefined): number {
  if (v === null || v === undefined) return 0;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new RangeError(`Ledger amount ${String(v)} is not an exact integer below 2^53`);
  return n;
}

/**
 * The most a payout may be for a payment of `amountSql` cents: the SQL twin of `payoutAmount`
 * (amount − ceil(amount × bps / 10000)), in integer arithmetic for non-negative amounts.
 */
export function maxPayoutSql(amountSql: string, bpsSql: string): string {
  return `(${amountSql} - ((${amountSql}) * (${bpsSql}) + 9999) / 10000)`;
}

// ---------------------------------------------------------------------------------------------
// The facts, read in one snapshot

export interface Offenders {
  count: number;
  paymentIds: string[];
  payoutIds: string[];
}

export interface LedgerFacts {
  payments: Array<{ currency: string; status: string; total: string | null }>;
  payouts: Array<{ currency: string; status: string; total: string | null }>;
  /** Payout amounts of RELEASED payments, by the payment's currency. */
  releasedPayouts: Array<{ currency: string; total: string | null }>;
  unknownPaymentStatuses: Offenders;
  releasedWithoutOnePayout: Offenders;
  payoutsOverMaximum: Offenders & { rows: Array<{ payoutId: string; paymentId: string; amount: string; paymentAmount: string; feeBps: number }> };
  payoutsForUnreleased: Offenders;
  nonPositiveAmounts: Offenders;
  payoutsNotMatchingPayment: Offenders;
}

/** Up to OFFENDERS_SHOWN ids of `q` (which selects `id`), smallest first, and how many there are. */
async function offenders(q: Knex.QueryBuilder, db: Db, idSql: string, kind: 'payment' | 'payout'): Promise<Offenders> {
  const rows = await q
    .clearSelect()
    .select<Array<{ id: string; total: number | string }>>(db.raw(`${idSql}::text AS id`), db.raw('count(*) OVER ()::int AS total'))
    .orderByRaw(idSql)
    .limit(OFFENDERS_SHOWN);
  const ids = rows.map((r) => r.id);
  return {
    count: rows.length ? Number(rows[0].total) : 0,
    paymentIds: kind === 'payment' ? ids : [],
    payoutIds: kind === 'payout' ? ids : [],
  };
}

/** Every query the summary needs, in the caller's transaction (one snapshot). */
export async function readLedgerFacts(db: Db, feeBps: number): Promise<LedgerFacts> {
  if (!Number.isSafeInteger(feeBps) || feeBps < 0 || feeBps > 10_000) throw new RangeError(`feeBps ${feeBps} is not 0..10000`);
  const payments = await db('payments')
    .select<LedgerFacts['payments']>('currency', 'status', db.raw('sum(amount)::text AS total'))
    .groupBy('currency', 'status')
    .orderBy(['currency', 'status']);
  const payouts = await db('payouts')
    .select<LedgerFacts['payouts']>('currency', 'status', db.raw('sum(amount)::text AS total'))
    .groupBy('currency', 'status')
    .orderBy(['currency', 'status']);
  const releasedPayouts = await db('payouts as o')
    .join('payments as p', 'p.id', 'o.payment_id')
    .where('p.status', 'RELEASED')
    .select<LedgerFacts['releasedPayouts']>('p.currency', db.raw('sum(o.amount)::text AS total'))
    .groupBy('p.currency');

  // (a) a payment that left PENDING without failing, in no bucket.
  const unknownPaymentStatuses = await offenders(db('payments').whereNotIn('status', [...PaymentStatus.options]), db, 'id', 'payment');

  // (b) RELEASED with no payout (or, were the unique constraint gone, several).
  const releasedWithoutOnePayout = await offenders(
    db('payments as p').leftJoin('payouts as o', 'o.payment_id', 'p.id').where('p.status', 'RELEASED').groupBy('p.id').havingRaw('count(o.id) <> 1'),
    db,
    'p.id',
    'payment',
  );

  // (c) more than the payment less the fee: the rate the payout was made with (PLATFORM_FEE_BPS
  // for payouts made before the rate was stored).
  const rate = `coalesce(o.fee_bps, ${feeBps})`;
  const over = () => db('payouts as o').join('payments as p', 'p.id', 'o.payment_id').whereRaw(`o.amount > ${maxPayoutSql('p.amount', rate)}`);
  const overIds = await offenders(over(), db, 'o.id', 'payout');
  const overRows: LedgerFacts['payoutsOverMaximum']['rows'] = overIds.count
    ? await over()
        .select<LedgerFacts['payoutsOverMaximum']['rows']>(
          db.raw('o.id::text AS "payoutId"'),
          db.raw('p.id::text AS "paymentId"'),
          db.raw('o.amount::text AS amount'),
          db.raw('p.amount::text AS "paymentAmount"'),
          db.raw(`${rate}::int AS "feeBps"`),
        )
        .orderBy('o.id')
        .limit(OFFENDERS_SHOWN)
    : [];

  // (d) a payout whose payment is not RELEASED. One exception, a dispute the customer won before
  // the transfer (settlement.ts): payment RELEASED → REFUNDED, its payout FAILED (DISPUTE_LOST).
  // A FAILED or REVERSED payout of a REFUNDED payment moved no money; any other one did, twice.
  const payoutsForUnreleased = await offenders(
    db('payouts as o')
      .join('payments as p', 'p.id', 'o.payment_id')
      .whereNot('p.status', 'RELEASED')
      .whereNot((w) => {
        w.where('p.status', 'REFUNDED').whereIn('o.status', [...SETTLED_WITHOUT_MONEY]);
      }),
    db,
    'o.id',
    'payout',
  );

  // (e) amounts are bigint (integers by type); they must also be positive.
  const badPayments = await offenders(db('payments').where('amount', '<=', 0), db, 'id', 'payment');
  const badPayouts = await offenders(db('payouts').where('amount', '<=', 0), db, 'id', 'payout');

  // (f) a payout belongs to its payment's booking and provider, in its currency, in a known status.
  const payoutsNotMatchingPayment = await offenders(
    db('payouts as o')
      .join('payments as p', 'p.id', 'o.payment_id')
      .join('bookings as b', 'b.id', 'p.booking_id')
      .where((w) => {
        w.whereRaw('o.booking_id <> p.booking_id')
          .orWhereRaw('o.currency <> p.currency')
          .orWhereRaw('o.provider_id <> b.provider_id')
          .orWhereNotIn('o.status', [...PayoutStatus.options]);
      }),
    db,
    'o.id',
    'payout',
  );

  return {
    payments,
    payouts,
    releasedPayouts,
    unknownPaymentStatuses,
    releasedWithoutOnePayout,
    payoutsOverMaximum: { ...overIds, rows: overRows },
    payoutsForUnreleased,
    nonPositiveAmounts: {
      count: badPayments.count + badPayouts.count,
      paymentIds: badPayments.paymentIds,
      payoutIds: badPayouts.payoutIds,
    },
    payoutsNotMatchingPayment,
  };
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
  const { facts, journal } = await knex.transaction(async (trx) => {
    await trx.raw('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    return { facts: await readLedgerFacts(trx, feeBps), journal: await checkJournal(trx) };
  });
  const summary = summarize(facts, feeBps);
  return { ...summary, balanced: summary.balanced && journal.balanced, journal };
}

// ---------------------------------------------------------------------------------------------
// Lists: cursor paging by id, newest first

const Limit = z.coerce.number().int().min(1).max(100).default(20);

export const ListPaymentsQuery = z.strictObject({
  cursor: RowId.optional(),
  limit: Limit,
  status: PaymentStatus.optional(),
});
export type ListPaymentsQuery = z.infer<typeof ListPaymentsQuery>;

export const ListPayoutsQuery = z.strictObject({
  cursor: RowId.optional(),
  limit: Limit,
  status: PayoutStatus.optional(),
});
export type ListPayoutsQuery = z.infer<typeof ListPayoutsQuery>;

interface MoneyRow {
  id: string;
  booking_id: string;
  reference: string;
  status: string;
  amount: string;
  currency: string;
  reason?: string | null;
  created_at: Date | string;
  updated_at: Date | string;
}

const iso = (d: Date | string) => (d instanceof Date ? d : new Date(d)).toISOString();

function item(r: MoneyRow) {
  return {
    id: String(r.id),
    bookingId: String(r.booking_id),
    reference: r.reference,
    status: r.status,
    amount: cents(r.amount),
    currency: r.currency,
    ...(r.reason ? { reason: r.reason } : {}),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

/** Payments, newest first: a client's (`clientId`), those of a provider's bookings (`providerId`), or all. */
export async function listPayments(
  db: Db,
  o: ListPaymentsQuery & { clientId?: string; providerId?: string },
): Promise<{ payments: PaymentItem[]; nextCursor: string | null }> {
  const q = db('payments as p')
    .join('bookings as b', 'b.id', 'p.booking_id')
    .select('p.id', 'p.booking_id', 'p.reference', 'p.status', 'p.amount', 'p.currency', 'p.created_at', 'p.updated_at')
    .orderBy('p.id', 'desc')
    .limit(o.limit + 1);
  if (o.clientId !== undefined) q.where('b.client_id', o.clientId);
  if (o.providerId !== undefined) q.where('b.provider_id', o.providerId);
  if (o.status) q.where('p.status', o.status);
  if (o.cursor) q.where('p.id', '<', o.cursor);
  const { items, nextCursor } = pageOf(((await q) as MoneyRow[]).map(item), o.limit);
  return { payments: items as PaymentItem[], nextCursor };
}

/** Payouts, newest first: a provider's (`providerId`), or all. */
export async function listPayouts(
  db: Db,
  o: ListPayoutsQuery & { providerId?: string },
): Promise<{ payouts: PayoutItem[]; nextCursor: string | null }> {
  const q = db('payouts as o')
    .select('o.id', 'o.booking_id', 'o.reference', 'o.status', 'o.amount', 'o.currency', 'o.reason', 'o.created_at', 'o.updated_at')
    .orderBy('o.id', 'desc')
    .limit(o.limit + 1);
  if (o.providerId !== undefined) q.where('o.provider_id', o.providerId);
  if (o.status) q.where('o.status', o.status);
  if (o.cursor) q.where('o.id', '<', o.cursor);
  const { items, nextCursor } = pageOf(((await q) as MoneyRow[]).map(item), o.limit);
  return { payouts: items as PayoutItem[], nextCursor };
}
