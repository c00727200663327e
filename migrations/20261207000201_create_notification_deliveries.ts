import type { Knex } from 'knex';

/**
 * One row per notification, recipient and channel beyond the tab (email, push, sms, whatsapp):
 * queued with the time it is due, then sending, sent, delivered, failed or skipped with why. The
 * unique key is what makes a send happen at most once across instances and restarts.
 *
 * The dispatcher reads `notification.created` events from the log behind its own cursor, kept in
 * `dispatch_cursors`; it starts at the log's end, so an upgrade does not send history.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('notification_deliveries', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('notification_id').notNullable().references('notifications.id').onDelete('CASCADE');
    t.text('user_id').notNullable().references('users.id');
    t.text('channel').notNullable();
    t.text('status').notNullable();
    t.text('reason');
    // Where it goes: an email address, a phone number, a push endpoint's host.
    t.text('address');
    t.timestamp('notified_at', { useTz: true }).notNullable();
    t.timestamp('due_at', { useTz: true }).notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('lease_until', { useTz: true });
    t.text('provider_ref');
    t.text('error_code');
    t.timestamp('sent_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['notification_id', 'user_id', 'channel']);
  });
  await knex.raw(`ALTER TABLE notification_deliveries ADD CONSTRAINT notification_deliveries_status
    CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'failed', 'skipped'))`);
  await knex.raw("CREATE INDEX notification_deliveries_due ON notification_deliveries (due_at) WHERE status = 'queued'");
  await knex.raw("CREATE INDEX notification_deliveries_sending ON notification_deliveries (lease_until) WHERE status = 'sending'");
  await knex.raw('CREATE INDEX notification_deliveries_provider_ref ON notification_deliveries (channel, provider_ref) WHERE provider_ref IS NOT NULL');

  await knex.schema.createTable('dispatch_cursors', (t) => {
    t.text('name').primary();
    t.bigInteger('last_event_id').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw("INSERT INTO dispatch_cursors (name, last_event_id) SELECT 'deliveries', coalesce(max(id), 0) FROM events");
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('dispatch_cursors');
  await knex.schema.dropTable('notification_deliveries');
}
