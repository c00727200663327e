import type { Knex } from 'knex';

// The double-entry journal (src/payments/journal.ts): one entry per money movement, its postings
// summing to zero, in integer cents; each entry names the booking, payment and payout it belongs
// to, so the journal check can compare every payment's and payout's state with what it holds.
// Each payout keeps the fee rate it was made with, and a payment the card dispute took back after
// its payout went out is marked, for the chargeback loss.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('journal_entries', (t) => {
    t.bigIncrements('id').primary();
    t.text('kind').notNullable();
    t.bigInteger('booking_id').notNullable().references('bookings.id');
    t.bigInteger('payment_id').notNullable().references('payments.id');
    t.bigInteger('payout_id').references('payouts.id');
    t.text('currency').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.createTable('journal_postings', (t) => {
    t.bigInteger('entry_id').notNullable().references('journal_entries.id');
    t.text('account').notNullable();
    t.bigInteger('amount').notNullable();
  });
  await knex.raw('CREATE INDEX journal_entries_payment ON journal_entries (payment_id)');
  await knex.raw('CREATE INDEX journal_entries_payout ON journal_entries (payout_id) WHERE payout_id IS NOT NULL');
  await knex.raw('CREATE INDEX journal_postings_entry ON journal_postings (entry_id)');
  await knex.schema.alterTable('payouts', (t) => {
    t.integer('fee_bps');
  });
  await knex.schema.alterTable('payments', (t) => {
    t.timestamp('chargeback_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payments', (t) => {
    t.dropColumn('chargeback_at');
  });
  await knex.schema.alterTable('payouts', (t) => {
    t.dropColumn('fee_bps');
  });
  await knex.schema.dropTable('journal_postings');
  await knex.schema.dropTable('journal_entries');
}
