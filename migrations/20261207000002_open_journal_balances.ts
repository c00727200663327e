import type { Knex } from 'knex';

// Opening balances for money that moved before the journal existed: each received payment with
// no journal entry gets one `opening_balance` entry holding what its state (and its payout's)
// says it holds, balanced against paystack_balance, so the journal check starts from agreement.
// The rules are written out here, not imported, so this migration means the same thing forever.
export async function up(knex: Knex): Promise<void> {
  const rows: Array<{
    id: string;
    booking_id: string;
    status: string;
    amount: string;
    currency: string;
    verified_amount: string | null;
    paystack_fees: string | null;
    chargeback_loss: string | null;
    payout_id: string | null;
    payout_status: string | null;
    payout_amount: string | null;
  }> = await knex('payments as p')
    .leftJoin('payouts as o', 'o.payment_id', 'p.id')
    .whereNotIn('p.status', ['PENDING', 'FAILED', 'EXPIRED'])
    .whereNotExists(knex('journal_entries as e').whereRaw('e.payment_id = p.id'))
    .select(
      'p.id',
      'p.booking_id',
      'p.status',
      'p.amount',
      'p.currency',
      'p.verified_amount',
      'p.paystack_fees',
      'p.chargeback_loss',
      'o.id as payout_id',
      'o.status as payout_status',
      'o.amount as payout_amount',
    );
  for (const p of rows) {
    const a = Number(p.amount);
    const verified = Number(p.verified_amount ?? 0);
    const payout = Number(p.payout_amount ?? 0);
    const held: Record<string, number> = {
      escrow: p.status === 'PAID' || p.status === 'ESCROW' ? -a : 0,
      unmatched_charges: p.status === 'FLAGGED' ? -verified : 0,
      refunds_owed: p.status === 'REFUND_PENDING' ? -a : 0,
      platform_revenue: p.status === 'RELEASED' && p.payout_id ? -(a - payout) : 0,
      paystack_fees: p.status === 'FLAGGED' && verified === 0 ? 0 : Number(p.paystack_fees ?? 0),
      chargeback_losses: Number(p.chargeback_loss ?? 0),
      provider_payable:
        p.payout_status === 'PENDING' || ((p.payout_status === 'FAILED' || p.payout_status === 'REVERSED') && p.status === 'RELEASED') ? -payout : 0,
      payouts_in_flight: p.payout_status === 'PROCESSING' ? -payout : 0,
    };
    const postings = Object.entries(held).filter(([, amount]) => amount !== 0);
    const rest = -postings.reduce((s, [, amount]) => s + amount, 0);
    if (rest !== 0) postings.push(['paystack_balance', rest]);
    if (!postings.length) continue;
    const [entry] = await knex('journal_entries')
      .insert({ kind: 'opening_balance', booking_id: p.booking_id, payment_id: p.id, payout_id: p.payout_id, currency: p.currency })
      .returning<Array<{ id: string }>>('id');
    await knex('journal_postings').insert(postings.map(([account, amount]) => ({ entry_id: entry.id, account, amount })));
  }
}

export async function down(knex: Knex): Promise<void> {
  const opening = knex('journal_entries').where({ kind: 'opening_balance' }).select('id');
  await knex('journal_postings').whereIn('entry_id', opening).delete();
  await knex('journal_entries').where({ kind: 'opening_balance' }).delete();
}
