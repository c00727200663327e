import type { Knex } from 'knex';

/**
 * What a user chose for channels beyond the tab: contact details (an email that overrides the
 * token's, a phone number in E.164), which channels each notification type may use (a type absent
 * from the map may use every channel its policy names), and quiet hours in their time zone, as
 * minutes after local midnight (start > end wraps past midnight; both null: none).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('notification_preferences', (t) => {
    t.text('email');
    t.text('phone');
    t.text('time_zone');
    t.smallint('quiet_start_min');
    t.smallint('quiet_end_min');
    t.jsonb('channels').notNullable().defaultTo('{}');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('notification_preferences', (t) => {
    t.dropColumn('channels');
    t.dropColumn('quiet_end_min');
    t.dropColumn('quiet_start_min');
    t.dropColumn('time_zone');
    t.dropColumn('phone');
    t.dropColumn('email');
  });
}
