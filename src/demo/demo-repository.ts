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
