import type { Knex } from 'knex';

// The transactional outbox and the replay log in one: ids are the SSE ids and the polling cursor.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('events', (t) => {
    t.bigIncrements('id').primary();
    t.text('type').notNullable();
    t.specificType('audience', 'text[]').notNullable();
    t.jsonb('payload').notNullable();
    // clock_timestamp, not now(): now() is the transaction's start, not when the event was written.
    t.timestamp('occurred_at', { useTz: true }).notNullable().defaultTo(knex.raw('clock_timestamp()'));
  });
  await knex.raw('CREATE INDEX events_audience_gin ON events USING gin (audience)');
  await knex.raw('CREATE INDEX events_occurred_at ON events (occurred_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('events');
}
