import type { Knex } from 'knex';

// Users are created and refreshed from JWT claims; the identity provider stays the source of truth.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('users', (t) => {
    t.text('id').primary();
    t.text('role').notNullable();
    t.text('name');
    t.text('email');
    t.specificType('services', 'text[]').notNullable().defaultTo('{}');
    t.text('payout_recipient_code');
    t.text('payout_account_name');
    t.text('payout_bank_code');
    t.text('payout_account_last4');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw('CREATE INDEX users_role ON users (role, id)');
  await knex.raw('CREATE INDEX users_services_gin ON users USING gin (services)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('users');
}
