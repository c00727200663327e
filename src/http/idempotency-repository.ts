import type { Db } from '../storage/db';

/** A key as stored: the request it was first used for, and its answer once there is one. */
export interface StoredKey {
  user_id: string;
  key: string;
  request_hash: string;
  status: number | null;
  body: unknown;
  created_at: Date;
}

/** Records the key as in progress; false when the user already holds it (a repeat, or a reuse). */
export async function claimKey(db: Db, userId: string, key: string, requestHash: string): Promise<boolean> {
  const claimed = await db('idempotency_keys')
    .insert({ user_id: userId, key, request_hash: requestHash })
    .onConflict(['user_id', 'key'])
    .ignore()
    .returning('key');
  return claimed.length > 0;
}

export async function findKey(db: Db, userId: string, key: string): Promise<StoredKey | undefined> {
  return db<StoredKey>('idempotency_keys').where({ user_id: userId, key }).first();
}

/** Deletes the key if it still belongs to this request. */
export async function forgetKey(db: Db, userId: string, key: string, requestHash: string): Promise<void> {
  await db('idempotency_keys').where({ user_id: userId, key, request_hash: requestHash }).del();
}

/** Deletes the key if it belongs to this request and holds no answer yet. */
export async function releaseKey(db: Db, userId: string, key: string, requestHash: string): Promise<void> {
  await db('idempotency_keys').where({ user_id: userId, key, request_hash: requestHash }).whereNull('status').del();
}

export async function storeAnswer(db: Db, userId: string, key: string, status: number, body: unknown): Promise<void> {
  await db('idempotency_keys')
    .where({ user_id: userId, key })
    .update({ status, body: JSON.stringify(body ?? null) });
}

export async function deleteKeysCreatedBefore(db: Db, before: Date): Promise<number> {
  return db('idempotency_keys').where('created_at', '<', before).del();
}
