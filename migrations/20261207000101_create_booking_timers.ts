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
  // Bookings made before the clock existed get the timers they would have had, with the default
  // 24 h TTL (migrations do not read the configuration); reminders already past are not set.
  await knex.raw(`
    INSERT INTO booking_timers (booking_id, kind, due_at)
    SELECT id, 'request_expiry', least(created_at + interval '24 hours', scheduled_for) FROM bookings WHERE status = 'PENDING'
    UNION ALL
    SELECT id, 'request_reminder', created_at + (least(created_at + interval '24 hours', scheduled_for) - created_at) / 2
      FROM bookings WHERE status = 'PENDING' AND created_at + (least(created_at + interval '24 hours', scheduled_for) - created_at) / 2 > now()
    UNION ALL
    SELECT id, 'visit_24h', scheduled_for - interval '24 hours' FROM bookings WHERE status = 'CONFIRMED' AND scheduled_for - interval '24 hours' > now()
    UNION ALL
    SELECT id, 'visit_1h', scheduled_for - interval '1 hour' FROM bookings WHERE status = 'CONFIRMED' AND scheduled_for - interval '1 hour' > now()`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('booking_timers');
}
