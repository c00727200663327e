import type { Knex } from 'knex';

// Why the last refund attempt did not go through (the request failed, Paystack's refund.failed or
// refund.needs-attention), and since when: what puts a refund in the operators' queue.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payments', (t) => {
    t.text('refund_failure');
    t.timestamp('refund_failed_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payments', (t) => {
    t.dropColumn('refund_failure');
    t.dropColumn('refund_failed_at');
  });
}
