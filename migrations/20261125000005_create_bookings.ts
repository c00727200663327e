import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('bookings', (t) => {
    t.bigIncrements('id').primary();
    t.text('client_id').notNullable().references('users.id');
    t.text('provider_id').notNullable().references('users.id');
    t.text('service').notNullable();
    t.timestamp('scheduled_for', { useTz: true }).notNullable();
    t.bigInteger('amount').notNullable();
    t.text('currency').notNullable();
    t.text('notes');
    t.text('status').notNullable();
    t.text('reason');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  // Money is integer cents, and positive; the database refuses anything else.
  await knex.raw('ALTER TABLE bookings ADD CONSTRAINT bookings_amount_positive CHECK (amount > 0)');
  await knex.raw('CREATE INDEX bookings_client ON bookings (client_id, id DESC)');
  await knex.raw('CREATE INDEX bookings_provider ON bookings (provider_id, id DESC)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('bookings');
}
