import type { Knex } from 'knex';
import type { Db } from '../storage/db';
import { PaymentStatus, PayoutStatus } from '../contract/vocabulary';

/*
 * The facts the money ledger (ledger.ts) is computed from, read with SQL: sums per currency and
 * status, and the rows that break an escrow rule. Sums are read as text; ledger.ts turns them
 * into cents.
 */

/** How many offending ids of each kind a check names at most, smallest first. */
export const OFFENDERS_SHOWN = 20;

/** Payout statuses in which no money reached the provider (or it came back). */
export const SETTLED_WITHOUT_MONEY: readonly PayoutStatus[] = ['FAILED', 'REVERSED'];

/**
 * The most a payout may be for a payment of `amountSql` cents: the SQL twin of `payoutAmount`
 * (amount − ceil(amount × bps / 10000)), in integer arithmetic for non-negative amounts.
 */
export function maxPayoutSql(amountSql: string, bpsSql: string): string {
  return `(${amountSql} - ((${amountSql}) * (${bpsSql}) + 9999) / 10000)`;
}

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
  const over = () =>
    db('payouts as o')
      .join('payments as p', 'p.id', 'o.payment_id')
      .whereRaw(`o.amount > ${maxPayoutSql('p.amount', rate)}`);
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
