import type { Db } from '../storage/db';

export interface PushSubscriptionRow {
  id: string;
  user_id: string;
  endpoint: string;
  p256dh: string;
  auth: string;
}

/** A subscription belongs to the user who last registered its endpoint (a browser signed in as someone else). */
export async function savePushSubscription(db: Db, userId: string, s: { endpoint: string; p256dh: string; auth: string }): Promise<string> {
  const [row] = await db('push_subscriptions')
    .insert({ user_id: userId, endpoint: s.endpoint, p256dh: s.p256dh, auth: s.auth })
    .onConflict('endpoint')
    .merge(['user_id', 'p256dh', 'auth'])
    .returning<Array<{ id: string | number }>>('id');
  return String(row.id);
}

/** Removes the user's own subscription at `endpoint`; true if there was one. */
export async function deletePushSubscription(db: Db, userId: string, endpoint: string): Promise<boolean> {
  return (await db('push_subscriptions').where({ user_id: userId, endpoint }).del()) > 0;
}

export async function deletePushSubscriptionById(db: Db, id: string): Promise<void> {
  await db('push_subscriptions').where({ id }).del();
}

export async function pushSubscriptionsOf(db: Db, userId: string): Promise<Array<PushSubscriptionRow & { role: string }>> {
  const rows = await db('push_subscriptions as s')
    .join('users as u', 'u.id', 's.user_id')
    .where('s.user_id', userId)
    .orderBy('s.id')
    .select('s.id', 's.user_id', 's.endpoint', 's.p256dh', 's.auth', 'u.role');
  return rows.map((r: PushSubscriptionRow & { role: string }) => ({ ...r, id: String(r.id) }));
}
