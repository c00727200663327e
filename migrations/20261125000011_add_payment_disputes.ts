import type { Knex } from 'knex';

// An open dispute freezes the payment's payout: no transfer starts while disputed_at is set.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payments', (t) => {
    t.timestamp('disputed_at', { useTz: true });
    t.text('dispute_id');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payments', (t) => {
    t.dropColumn('disputed_at');
    t.dropColumn('dispute_id');
  });
}
