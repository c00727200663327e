import type { Knex } from 'knex';

// The client's hold on escrow (work not done), and when work was completed: auto-release counts
// from the later of completion and the booking's time, and the client is reminded once before it.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payments', (t) => {
    t.timestamp('client_disputed_at', { useTz: true });
    t.text('client_dispute_reason');
  });
  await knex.schema.alterTable('bookings', (t) => {
    t.timestamp('completed_at', { useTz: true });
    t.timestamp('release_reminded_at', { useTz: true });
  });
  await knex.raw(`UPDATE bookings SET completed_at = updated_at WHERE status = 'COMPLETED'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('payments', (t) => {
    t.dropColumn('client_disputed_at');
    t.dropColumn('client_dispute_reason');
  });
  await knex.schema.alterTable('bookings', (t) => {
    t.dropColumn('completed_at');
    t.dropColumn('release_reminded_at');
  });
}
