import type { Knex } from 'knex';

/**
 * Who has a live stream open, across instances: one row per user and instance holding at least
 * one of their streams, written by that instance as streams come and go. A row counts only while
 * its instance's heartbeat is current, so a crashed instance's rows stop counting by themselves
 * and no row needs refreshing per stream. The dispatcher reads it before sending a push.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('instance_heartbeats', (t) => {
    t.text('instance_id').primary();
    t.timestamp('expires_at', { useTz: true }).notNullable();
  });
  await knex.schema.createTable('stream_presence', (t) => {
    t.text('user_id').notNullable();
    t.text('instance_id').notNullable();
    t.primary(['user_id', 'instance_id']);
  });
  await knex.raw('CREATE INDEX stream_presence_instance ON stream_presence (instance_id)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('stream_presence');
  await knex.schema.dropTable('instance_heartbeats');
}
