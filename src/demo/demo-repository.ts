import type { Knex } from 'knex';

/**
 * Every table that holds what people did in the demo: bookings and all that hangs off them
 * (CASCADE reaches tables added later that reference these), notifications, webhook deliveries,
 * the operators' queue and stored idempotent answers. Users, their payout accounts and the event
 * log stay: the log's ids only ever grow, so every client's cursor stays valid.
 */
const DEMO_DATA_TABLES = [
  'bookings',
  'payments',
  'payouts',
  'journal_entries',
  'journal_postings',
  'admin_actions',
  'attention_alerts',
  'notifications',
  'notification_reads',
  'webhook_deliveries',
  'idempotency_keys',
] as const;

/** Empties the demo's data in one statement; identities keep counting, so no id is ever reused. */
export async function wipeDemoData(knex: Knex): Promise<void> {
  await knex.raw(`TRUNCATE ${DEMO_DATA_TABLES.map((t) => `"${t}"`).join(', ')} CASCADE`);
}

/** Gives a demo user a phone number for texts unless they have one (one they set in the demo stays). */
export async function giveDemoPhone(knex: Knex, userId: string, phone: string): Promise<void> {
  await knex('notification_preferences')
    .insert({ user_id: userId, phone })
    .onConflict('user_id')
    .merge({ phone: knex.raw('coalesce(notification_preferences.phone, excluded.phone)') });
}

/**
 * The demo's fake push service starts afresh on every start, on a new port with new keys: the
 * user's subscriptions to an earlier one (plain http on loopback, which only a fake can be) are
 * dead, and go. Subscriptions a real browser made (https, a vendor's push service) stay.
 */
export async function replaceDemoPushSubscription(knex: Knex, userId: string, s: { endpoint: string; p256dh: string; auth: string }): Promise<void> {
  await knex.transaction(async (trx) => {
    await trx('push_subscriptions').where('user_id', userId).andWhere('endpoint', 'like', 'http://127.0.0.1:%').del();
    await trx('push_subscriptions').insert({ user_id: userId, endpoint: s.endpoint, p256dh: s.p256dh, auth: s.auth });
  });
}
