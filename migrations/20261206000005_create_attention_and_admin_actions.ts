import type { Knex } from 'knex';

// What Paystack verified for each charge (amount, currency, its fee), the alerts already raised to
// the operators (so each is told once, when it first appears), and every admin action on money,
// with who, when and why.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payments', (t) => {
    t.bigInteger('verified_amount');
    t.text('verified_currency');
    t.bigInteger('paystack_fees');
  });
  await knex.schema.createTable('attention_alerts', (t) => {
    t.text('kind').notNullable();
    t.text('subject_id').notNullable();
    t.text('reason').notNullable();
    t.bigInteger('booking_id').notNullable();
    t.timestamp('raised_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['kind', 'subject_id', 'reason']);
  });
  await knex.schema.createTable('admin_actions', (t) => {
    t.bigIncrements('id').primary();
    t.text('actor_id').notNullable();
    t.text('action').notNullable();
    t.bigInteger('booking_id').notNullable().references('bookings.id');
    t.bigInteger('payment_id').references('payments.id');
    t.text('reason').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw('CREATE INDEX admin_actions_booking ON admin_actions (booking_id, id)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('admin_actions');
  await knex.schema.dropTable('attention_alerts');
  await knex.schema.alterTable('payments', (t) => {
    t.dropColumn('verified_amount');
    t.dropColumn('verified_currency');
    t.dropColumn('paystack_fees');
  });
}
