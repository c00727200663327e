import type { Db } from '../storage/db';
import type { Posting } from './journal';

/**
 * Journal entries and their postings, for one booking's payment (and payout), in one statement:
 * each entry a CTE that returns its id, then every posting. One round trip however many entries
 * a move makes, inside the move's transaction.
 */
export async function insertJournalEntries(
  db: Db,
  subject: { bookingId: string; paymentId: string; payoutId?: string | null; currency: string },
  entries: ReadonlyArray<{ kind: string; postings: readonly Posting[] }>,
): Promise<void> {
  if (!entries.length) return;
  const ctes = entries.map(
    (_, i) => `e${i} AS (INSERT INTO journal_entries (kind, booking_id, payment_id, payout_id, currency) VALUES (?, ?, ?, ?, ?) RETURNING id)`,
  );
  const rows = entries.flatMap((e, i) => e.postings.map(() => `((SELECT id FROM e${i}), ?, ?)`));
  const bindings = [
    ...entries.flatMap((e) => [e.kind, subject.bookingId, subject.paymentId, subject.payoutId ?? null, subject.currency]),
    ...entries.flatMap((e) => e.postings.flatMap((p) => [p.account, p.amount])),
  ];
  await db.raw(`WITH ${ctes.join(', ')} INSERT INTO journal_postings (entry_id, account, amount) VALUES ${rows.join(', ')}`, bindings);
}

/** Balances per currency and account, over the whole journal. */
export async function accountBalances(db: Db): Promise<Array<{ currency: string; account: string; balance: string }>> {
  return db('journal_postings as p')
    .join('journal_entries as e', 'e.id', 'p.entry_id')
    .select('e.currency', 'p.account', db.raw('sum(p.amount)::text AS balance'))
    .groupBy('e.currency', 'p.account')
    .orderBy(['e.currency', 'p.account']);
}

/** Entries whose postings do not sum to zero (none, unless something wrote around `post`). */
export async function unbalancedEntries(db: Db): Promise<Array<{ id: string; sum: string }>> {
  return db('journal_postings')
    .select(db.raw('entry_id::text AS id'), db.raw('sum(amount)::text AS sum'))
    .groupBy('entry_id')
    .havingRaw('sum(amount) <> 0')
    .orderBy('entry_id');
}

/** Per payment, or per payout: the balance each account holds for it. */
export async function balancesBy(db: Db, by: 'payment' | 'payout'): Promise<Array<{ id: string; account: string; balance: string }>> {
  const col = by === 'payment' ? 'e.payment_id' : 'e.payout_id';
  return db('journal_postings as p')
    .join('journal_entries as e', 'e.id', 'p.entry_id')
    .whereNotNull(col)
    .select(db.raw(`${col}::text AS id`), 'p.account', db.raw('sum(p.amount)::text AS balance'))
    .groupBy(col, 'p.account');
}

/** What the state tables say, for the journal check: every payment and payout with its amounts. */
export interface MoneyStates {
  payments: Array<{
    id: string;
    status: string;
    amount: string;
    verified_amount: string | null;
    paystack_fees: string | null;
    refunded_amount: string;
    charged_back_amount: string;
    refund_target: string | null;
    chargeback_loss: string | null;
    payout_amount: string | null;
  }>;
  payouts: Array<{ id: string; status: string; amount: string; payment_status: string }>;
}

export async function moneyStates(db: Db): Promise<MoneyStates> {
  const payments = await db('payments as p')
    .leftJoin('payouts as o', 'o.payment_id', 'p.id')
    .select<MoneyStates['payments']>(
      db.raw('p.id::text AS id'),
      'p.status',
      'p.amount',
      'p.verified_amount',
      'p.paystack_fees',
      'p.refunded_amount',
      'p.charged_back_amount',
      'p.refund_target',
      'p.chargeback_loss',
      'o.amount as payout_amount',
    );
  const payouts = await db('payouts as o')
    .join('payments as p', 'p.id', 'o.payment_id')
    .select<MoneyStates['payouts']>(db.raw('o.id::text AS id'), 'o.status', 'o.amount', 'p.status as payment_status');
  return { payments, payouts };
}
