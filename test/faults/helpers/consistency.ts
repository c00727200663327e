import { Client } from 'pg';

/**
 * "Nothing half-written": every booking row has exactly one booking.created event, and its status
 * is the one its latest booking event announced. Returns the disagreements (none when consistent).
 */
export async function bookingLogMismatches(databaseUrl: string): Promise<string[]> {
  const c = new Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const { rows } = await c.query(`
      WITH ev AS (
        SELECT e.id, e.type, e.payload->'booking'->>'id' AS booking_id, e.payload->>'status' AS status
        FROM events e WHERE e.type LIKE 'booking.%'
      ), latest AS (
        SELECT DISTINCT ON (booking_id) booking_id, status FROM ev ORDER BY booking_id, id DESC
      )
      SELECT b.id::text AS id, b.status, l.status AS logged,
             (SELECT count(*) FROM ev WHERE ev.booking_id = b.id::text AND ev.type = 'booking.created')::int AS created
      FROM bookings b LEFT JOIN latest l ON l.booking_id = b.id::text
      UNION ALL
      SELECT ev.booking_id, NULL, ev.status, 1 FROM ev
      WHERE NOT EXISTS (SELECT 1 FROM bookings b WHERE b.id::text = ev.booking_id)`);
    return rows
      .filter((r) => r.status === null || r.created !== 1 || r.status !== r.logged)
      .map((r) => `booking ${r.id}: row ${r.status ?? 'missing'}, log says ${r.logged ?? 'nothing'}, ${r.created} booking.created`);
  } finally {
    await c.end();
  }
}

/** Titles of the announcements in the log, to match broadcasts that were refused or acknowledged. */
export async function loggedTitles(databaseUrl: string): Promise<Map<string, number>> {
  const c = new Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const { rows } = await c.query(`SELECT payload->>'title' AS title, count(*)::int AS n FROM events WHERE type = 'announcement' GROUP BY 1`);
    return new Map(rows.map((r) => [r.title, r.n]));
  } finally {
    await c.end();
  }
}
