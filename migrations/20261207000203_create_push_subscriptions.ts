import type { Knex } from 'knex';

/** A browser's PushSubscription: the push service's endpoint and the keys its payloads are encrypted to. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('push_subscriptions', (t) => {
    t.bigIncrements('id').primary();
    t.text('user_id').notNullable().references('users.id');
    t.text('endpoint').notNullable().unique();
    t.text('p256dh').notNullable();
    t.text('auth').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw('CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('push_subscriptions');
}
