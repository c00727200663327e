import type { Knex } from 'knex';

// The first answer to each (user, Idempotency-Key), so a phone retrying a POST gets it again
// instead of doing the thing twice.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('idempotency_keys', (t) => {
    t.text('user_id').notNullable();
    t.text('key').notNullable();
    t.text('request_hash').notNullable();
    t.integer('status');
    t.jsonb('body');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['user_id', 'key']);
  });
  await knex.raw('CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('idempotency_keys');
}
