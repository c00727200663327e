import type { Knex } from 'knex';

/**
 * A personal notification has a `user_id` and its own `read_at`. An announcement to a role or to
 * everyone is ONE row with `user_id` null and an audience (fan-out on read): who sees it is
 * decided when an inbox is read, and read state is written per user only when they read it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('notifications', (t) => {
    t.bigIncrements('id').primary();
    t.text('user_id').references('users.id');
    t.specificType('audience', 'text[]');
    t.text('type').notNullable();
    t.text('title').notNullable();
    t.text('body').notNullable();
    t.jsonb('data').notNullable();
    t.boolean('silent').notNullable().defaultTo(false);
    t.timestamp('read_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.raw('clock_timestamp()'));
  });
  await knex.raw('ALTER TABLE notifications ADD CONSTRAINT notifications_one_target CHECK ((user_id IS NULL) <> (audience IS NULL))');
  await knex.raw('CREATE INDEX notifications_user ON notifications (user_id, id DESC) WHERE user_id IS NOT NULL');
  await knex.raw('CREATE INDEX notifications_user_unread ON notifications (user_id) WHERE user_id IS NOT NULL AND read_at IS NULL');
  await knex.raw('CREATE INDEX notifications_broadcast ON notifications (id DESC) WHERE user_id IS NULL');

  await knex.schema.createTable('notification_reads', (t) => {
    t.bigInteger('notification_id').notNullable().references('notifications.id').onDelete('CASCADE');
    t.text('user_id').notNullable().references('users.id');
    t.timestamp('read_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['user_id', 'notification_id']);
  });

  await knex.schema.createTable('notification_preferences', (t) => {
    t.text('user_id').primary().references('users.id');
    t.specificType('muted_types', 'text[]').notNullable().defaultTo('{}');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('notification_preferences');
  await knex.schema.dropTable('notification_reads');
  await knex.schema.dropTable('notifications');
}
