import type { Knex } from 'knex';

// What time does to a booking (src/bookings/booking-timers.ts): one row per timer, written with the
// move that sets it (a request, an acceptance), due at `due_at`, fired once: `fired_at` is set in
// the transaction that publishes its event. The partial index holds only unfired timers, so the
// clock's claim reads the few due ones, never the whole history.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('booking_timers', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('booking_id').notNullable().references('bookings.id').onDelete('CASCADE');
    t.text('kind').notNullable();
    t.timestamp('due_at', { useTz: true }).notNullable();
    t.timestamp('fired_at', { useTz: true });
    t.unique(['booking_id', 'kind']);
  });
  await knex.raw('CREATE INDEX booking_timers_due ON booking_timers (due_at, id) WHERE fired_at IS NULL');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('booking_timers');
}
