import type { Db } from '../storage/db';
import type { PreferenceRow } from './contact-preferences';

export async function readPreferences(db: Db, userId: string): Promise<PreferenceRow | undefined> {
  return db('users as u')
    .leftJoin('notification_preferences as np', 'np.user_id', 'u.id')
    .where('u.id', userId)
    .first('np.muted_types', 'np.email', 'u.email as profile_email', 'np.phone', 'np.time_zone', 'np.quiet_start_min', 'np.quiet_end_min', 'np.channels');
}

/** Writes only the columns given; a user with no row yet gets one. */
export async function writePreferences(db: Db, userId: string, columns: Record<string, unknown>): Promise<void> {
  const values = { ...columns };
  if (Array.isArray(values.muted_types)) values.muted_types = db.raw('?::text[]', [values.muted_types]);
  await db('notification_preferences')
    .insert({ user_id: userId, ...values })
    .onConflict('user_id')
    .merge(Object.keys(values));
}
