import type { Db } from '../storage/db';

/** The cheapest statement the database must answer: readiness asks whether it can. */
export async function pingDatabase(db: Db): Promise<void> {
  await db.raw('SELECT 1');
}
