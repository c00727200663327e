import type { Knex } from 'knex';

// Every row that waits on Paystack is checked on a schedule of its own: `next_check_at` (null until
// the first check, which falls due RECONCILE_AFTER_MS after the row's last change) and how many
// checks found nothing new, for the back-off. The lease column it replaces claimed rows by id,
// which let the oldest abandoned checkouts starve everything behind them.
export async function up(knex: Knex): Promise<void> {
  for (const table of ['payments', 'payouts']) {
    await knex.schema.alterTable(table, (t) => {
      t.timestamp('next_check_at', { useTz: true });
      t.integer('check_attempts').notNullable().defaultTo(0);
    });
    await knex.raw(`UPDATE ${table} SET next_check_at = reconcile_after WHERE reconcile_after IS NOT NULL`);
    await knex.schema.alterTable(table, (t) => {
      t.dropColumn('reconcile_after');
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['payments', 'payouts']) {
    await knex.schema.alterTable(table, (t) => {
      t.timestamp('reconcile_after', { useTz: true });
      t.dropColumn('next_check_at');
      t.dropColumn('check_attempts');
    });
  }
}
