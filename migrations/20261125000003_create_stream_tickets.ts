import type { Knex } from 'knex';

// Single-use stream tickets, stored hashed so a database read does not yield usable tickets,
// and in the database so a ticket minted on one instance opens a stream on any other.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('stream_tickets', (t) => {
    t.text('hash').primary();
    t.text('user_id').notNullable();
    t.text('role').notNullable();
    t.timestamp('token_expires_at', { useTz: true }).notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('used_at', { useTz: true });
  });
  await knex.raw('CREATE INDEX stream_tickets_expires_at ON stream_tickets (expires_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('stream_tickets');
}
