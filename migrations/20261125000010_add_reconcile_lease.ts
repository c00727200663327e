import type { Knex } from 'knex';

// A lease on a row for the reconciler: instances claim rows with SKIP LOCKED and a time, so two
// reconcilers never ask Paystack about the same payment at once, and a crashed one's claim expires.
export async function up(knex: Knex): Promise<void> {
  for (const table of ['payments', 'payouts']) {
    await knex.schema.alterTable(table, (t) => {
      t.timestamp('reconcile_after', { useTz: true });
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['payments', 'payouts']) {
    await knex.schema.alterTable(table, (t) => {
      t.dropColumn('reconcile_after');
    });
  }
}
