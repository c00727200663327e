import type { Db } from '../storage/db';
import type { Role } from '../contract/vocabulary';

export interface UserRow {
  id: string;
  role: Role;
  name: string | null;
  email: string | null;
  services: string[];
  payout_recipient_code: string | null;
  payout_account_name: string | null;
  payout_bank_code: string | null;
  payout_account_last4: string | null;
}

export interface UserClaims {
  userId: string;
  role: Role;
  name?: string;
  email?: string;
}

/** Creates or refreshes the user from token claims; name and email are kept when a token omits them. */
export async function upsertUser(db: Db, c: UserClaims): Promise<void> {
  await upsertUsers(db, [c]);
}

/** One statement for many users; at most one entry per user id (PostgreSQL refuses a row twice). */
export async function upsertUsers(db: Db, claims: readonly UserClaims[]): Promise<void> {
  if (claims.length === 0) return;
  await db('users')
    .insert(claims.map((c) => ({ id: c.userId, role: c.role, name: c.name ?? null, email: c.email ?? null })))
    .onConflict('id')
    .merge({
      role: db.raw('excluded.role'),
      name: db.raw('coalesce(excluded.name, users.name)'),
      email: db.raw('coalesce(excluded.email, users.email)'),
      updated_at: db.fn.now(),
    });
}

export async function findUser(db: Db, id: string): Promise<UserRow | undefined> {
  return db<UserRow>('users').where({ id }).first();
}

export async function listProviders(db: Db, o: { service?: string; after?: string; limit: number }): Promise<UserRow[]> {
  const q = db<UserRow>('users').where({ role: 'provider' }).orderBy('id', 'asc').limit(o.limit);
  if (o.service) q.andWhereRaw('? = ANY(services)', [o.service]);
  if (o.after) q.andWhere('id', '>', o.after);
  return q;
}

export async function setServices(db: Db, userId: string, services: string[]): Promise<void> {
  await db('users')
    .where({ id: userId })
    .update({ services: db.raw('?::text[]', [services]), updated_at: db.fn.now() });
}

export async function setPayoutAccount(
  db: Db,
  userId: string,
  a: { recipientCode: string; accountName: string; bankCode: string; last4: string },
): Promise<void> {
  await db('users').where({ id: userId }).update({
    payout_recipient_code: a.recipientCode,
    payout_account_name: a.accountName,
    payout_bank_code: a.bankCode,
    payout_account_last4: a.last4,
    updated_at: db.fn.now(),
  });
}
