import type { Knex } from 'knex';

// One row: the highest id ever pruned, so "is this cursor still replayable?" is exact even
// when ids have gaps (rolled-back appends) and the log is empty.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('event_log_state', (t) => {
    t.integer('id').primary();
    t.bigInteger('pruned_through').notNullable().defaultTo(0);
  });
  await knex.raw('ALTER TABLE event_log_state ADD CONSTRAINT event_log_state_singleton CHECK (id = 1)');
  await knex('event_log_state').insert({ id: 1, pruned_through: 0 });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('event_log_state');
}
