import type { Knex } from 'knex';

// A delivery is recorded (and answered) before it is settled: `settled_at` is null until its
// effect has committed. `next_attempt_at` is when any instance may try it (again); `attempts`
// backs a delivery that keeps failing off. Deliveries recorded before this change were settled
// in the request that recorded them.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('webhook_deliveries', (t) => {
    t.timestamp('settled_at', { useTz: true });
    t.timestamp('next_attempt_at', { useTz: true });
    t.integer('attempts').notNullable().defaultTo(0);
  });
  await knex('webhook_deliveries').update({ settled_at: knex.ref('received_at') });
  // The sweep reads only unsettled rows, which are few however long the table grows.
  await knex.raw('CREATE INDEX webhook_deliveries_unsettled ON webhook_deliveries (next_attempt_at, id) WHERE settled_at IS NULL');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS webhook_deliveries_unsettled');
  await knex.schema.alterTable('webhook_deliveries', (t) => {
    t.dropColumn('settled_at');
    t.dropColumn('next_attempt_at');
    t.dropColumn('attempts');
  });
}
