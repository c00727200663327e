import type { Knex } from 'knex';

// Every Paystack delivery with a valid signature, keyed so a redelivery is recognised (Paystack
// sends no event id; the key is built from the event name and the object's own ids).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('webhook_deliveries', (t) => {
    t.bigIncrements('id').primary();
    t.text('dedupe_key').notNullable().unique();
    t.text('event').notNullable();
    t.jsonb('payload').notNullable();
    t.text('outcome').notNullable();
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('webhook_deliveries');
}
