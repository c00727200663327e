import type { Knex } from 'knex';

// Partial amounts. refunded_amount: what Paystack's processed refunds of the charge add up to.
// charged_back_amount: what card disputes the customer won took back before the payout went out.
// refund_target: while a refund is pending, what refunded_amount comes to once it is processed
// (less than the whole charge for a partial refund). chargeback_loss: what a dispute lost after the
// payout went out took from us.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payments', (t) => {
    t.bigInteger('refunded_amount').notNullable().defaultTo(0);
    t.bigInteger('charged_back_amount').notNullable().defaultTo(0);
    t.bigInteger('refund_target');
    t.bigInteger('chargeback_loss');
  });
  // Losses recorded before this column were the whole charge.
  await knex('payments')
    .whereNotNull('chargeback_at')
    .update({ chargeback_loss: knex.ref('amount') });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payments', (t) => {
    t.dropColumn('refunded_amount');
    t.dropColumn('charged_back_amount');
    t.dropColumn('refund_target');
    t.dropColumn('chargeback_loss');
  });
}
