import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('payments', (t) => {
    t.bigIncrements('id').primary();
    // One payment per booking: a second initialize returns the first.
    t.bigInteger('booking_id').notNullable().unique().references('bookings.id');
    t.text('reference').notNullable().unique();
    t.text('status').notNullable();
    t.bigInteger('amount').notNullable();
    t.text('currency').notNullable();
    t.text('email').notNullable();
    t.text('authorization_url');
    t.text('access_code');
    t.bigInteger('paystack_transaction_id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw('ALTER TABLE payments ADD CONSTRAINT payments_amount_positive CHECK (amount > 0)');

  await knex.schema.createTable('payouts', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('booking_id').notNullable().unique().references('bookings.id');
    t.bigInteger('payment_id').notNullable().unique().references('payments.id');
    t.text('provider_id').notNullable().references('users.id');
    t.text('reference').notNullable().unique();
    t.text('status').notNullable();
    t.bigInteger('amount').notNullable();
    t.text('currency').notNullable();
    t.text('transfer_code');
    t.text('reason');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw('ALTER TABLE payouts ADD CONSTRAINT payouts_amount_non_negative CHECK (amount >= 0)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('payouts');
  await knex.schema.dropTable('payments');
}
