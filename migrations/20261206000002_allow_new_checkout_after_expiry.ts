import type { Knex } from 'knex';

// A checkout that expired (or failed) no longer holds its booking: the client may start another.
// One live payment per booking is still enforced, by a partial unique index.
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE payments DROP CONSTRAINT payments_booking_id_unique');
  await knex.raw(`CREATE UNIQUE INDEX payments_one_live_per_booking ON payments (booking_id) WHERE status NOT IN ('EXPIRED', 'FAILED')`);
  await knex.raw('CREATE INDEX payments_booking_id_index ON payments (booking_id)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX payments_booking_id_index');
  await knex.raw('DROP INDEX payments_one_live_per_booking');
  await knex.raw('ALTER TABLE payments ADD CONSTRAINT payments_booking_id_unique UNIQUE (booking_id)');
}
