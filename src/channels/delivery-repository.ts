import type { Knex } from 'knex';
import type { DeliveryView } from '../contract/views';
import type { Db } from '../storage/db';
import type { DeliveryChannel } from '../contract/vocabulary';
import type { NotificationView } from '../contract/views';

export const DISPATCH_CURSOR = 'deliveries';

export type DeliveryStatus = DeliveryView['status'];

export interface NewDelivery {
  notificationId: string;
  userId: string;
  channel: DeliveryChannel;
  status: 'queued' | 'skipped';
  reason: string | null;
  address: string | null;
  notifiedAt: Date;
  dueAt: Date;
}

/** A delivery claimed for sending, with its notification and whether its recipient has read it. */
export interface ClaimedDelivery {
  id: string;
  notification_id: string;
  user_id: string;
  channel: DeliveryChannel;
  address: string | null;
  attempts: number;
  notified_at: Date;
  due_at: Date;
  type: string;
  title: string;
  body: string;
  data: Record<string, unknown> | null;
  is_read: boolean;
  /** A live stream of the recipient is open on some instance (stream_presence). */
  streaming: boolean;
}

/** The view of one delivery in GET /api/notifications. */
export type { DeliveryView } from '../contract/views';

/** bigint columns arrive as strings from pg, as numbers from PGlite. */
interface CursorRow {
  name: string;
  last_event_id: string | number;
}

/** The cursor row, locked for this transaction; null while another instance holds it. */
export async function lockCursor(trx: Knex.Transaction): Promise<string | null> {
  const row = await trx<CursorRow>('dispatch_cursors').where({ name: DISPATCH_CURSOR }).forUpdate().skipLocked().first('last_event_id');
  return row ? String(row.last_event_id) : null;
}

export async function advanceCursor(trx: Knex.Transaction, lastEventId: string): Promise<void> {
  await trx('dispatch_cursors').where({ name: DISPATCH_CURSOR }).update({ last_event_id: lastEventId, updated_at: trx.fn.now() });
}

export async function cursorPosition(db: Db): Promise<string> {
  const row = await db<CursorRow>('dispatch_cursors').where({ name: DISPATCH_CURSOR }).first('last_event_id');
  return String(row?.last_event_id ?? '0');
}

/**
 * The next `limit` events after `after`, in id order: the payload only of notifications (the
 * rest are read for their id, to move the cursor past them).
 */
export async function eventsAfter(
  db: Db,
  after: string,
  limit: number,
): Promise<Array<{ id: string; type: string; audience: string[]; payload: { notification?: NotificationView } | null }>> {
  return db('events')
    .where('id', '>', after)
    .orderBy('id')
    .limit(limit)
    .select('id', 'type', 'audience', db.raw("CASE WHEN type = 'notification.created' THEN payload END AS payload"));
}

/** Each user's contact details and channel choices: the profile's email unless they set another. */
export interface ContactRow {
  user_id: string;
  email: string | null;
  phone: string | null;
  time_zone: string | null;
  quiet_start_min: number | null;
  quiet_end_min: number | null;
  channels: Record<string, string[]> | null;
  muted_types: string[] | null;
  has_push: boolean;
}

export async function contactsOf(db: Db, userIds: readonly string[]): Promise<Map<string, ContactRow>> {
  if (!userIds.length) return new Map();
  const rows: ContactRow[] = await db('users as u')
    .leftJoin('notification_preferences as np', 'np.user_id', 'u.id')
    .whereIn('u.id', [...userIds])
    .select(
      'u.id as user_id',
      db.raw('coalesce(np.email, u.email) as email'),
      'np.phone',
      'np.time_zone',
      'np.quiet_start_min',
      'np.quiet_end_min',
      'np.channels',
      'np.muted_types',
      db.raw('EXISTS (SELECT 1 FROM push_subscriptions ps WHERE ps.user_id = u.id) AS has_push'),
    );
  return new Map(rows.map((r) => [r.user_id, r]));
}

/** A second insert of the same notification, user and channel changes nothing. */
export async function insertDeliveries(trx: Db, rows: readonly NewDelivery[]): Promise<void> {
  if (!rows.length) return;
  await trx('notification_deliveries')
    .insert(
      rows.map((r) => ({
        notification_id: r.notificationId,
        user_id: r.userId,
        channel: r.channel,
        status: r.status,
        reason: r.reason,
        address: r.address,
        notified_at: r.notifiedAt,
        due_at: r.dueAt,
      })),
    )
    .onConflict(['notification_id', 'user_id', 'channel'])
    .ignore();
}

/**
 * A send interrupted by a crash (its lease ran out while `sending`) may or may not have reached
 * the provider: it is marked failed, never sent again. Returns how many.
 */
export async function abandonInterrupted(db: Db, now: Date): Promise<number> {
  return db('notification_deliveries')
    .where('status', 'sending')
    .andWhere('lease_until', '<', now)
    .update({
      status: 'failed',
      error_code: 'SEND_OUTCOME_UNKNOWN',
      reason: 'interrupted while sending; not sent again, so it went at most once',
      lease_until: null,
      updated_at: now,
    });
}

/**
 * Claims up to `limit` due deliveries for this instance: each moves to `sending` with a lease in
 * one statement, and SKIP LOCKED keeps two instances from claiming the same row. Presence is
 * checked against the database's clock, not `now`: it is about who is streaming at this moment.
 */
export async function claimDue(db: Db, now: Date, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
  const { rows } = await db.raw<{ rows: ClaimedDelivery[] }>(
    `UPDATE notification_deliveries d
     SET status = 'sending', attempts = d.attempts + 1, lease_until = ?, updated_at = ?
     FROM notifications n
     WHERE d.id IN (
       SELECT id FROM notification_deliveries
       WHERE status = 'queued' AND due_at <= ?
       ORDER BY due_at, id
       LIMIT ?
       FOR UPDATE SKIP LOCKED
     ) AND n.id = d.notification_id
     RETURNING d.id, d.notification_id, d.user_id, d.channel, d.address, d.attempts, d.notified_at, d.due_at,
       n.type, n.title, n.body, n.data,
       (n.read_at IS NOT NULL OR EXISTS (
         SELECT 1 FROM notification_reads r WHERE r.notification_id = n.id AND r.user_id = d.user_id
       )) AS is_read,
       EXISTS (
         SELECT 1 FROM stream_presence p JOIN instance_heartbeats h ON h.instance_id = p.instance_id
         WHERE p.user_id = d.user_id AND h.expires_at > now()
       ) AS streaming`,
    [new Date(now.getTime() + leaseMs), now, now, limit],
  );
  return rows.map((r) => ({ ...r, id: String(r.id), notification_id: String(r.notification_id) }));
}

/** The earliest time a queued delivery is due, or null when none is queued. */
export async function nextDueAt(db: Db): Promise<Date | null> {
  const row = (await db('notification_deliveries').where('status', 'queued').min('due_at as due').first()) as { due: Date | string | null } | undefined;
  return row?.due ? new Date(row.due) : null;
}

export type Outcome =
  | { status: 'sent'; providerRef: string | null }
  | { status: 'skipped'; reason: string }
  | { status: 'failed'; code: string; reason: string }
  | { status: 'queued'; dueAt: Date; code: string; reason: string };

/** How one claimed delivery ended, and when. */
export interface Settlement {
  id: string;
  outcome: Outcome;
  at: Date;
}

/**
 * Records how claimed sends ended, all in one statement; only rows still `sending` change. A
 * sent one keeps its provider's reference and loses any earlier error, a skipped one its reason,
 * a failed one its code and reason, one put back for a retry its new due time as well.
 */
export async function settleDeliveries(db: Db, settled: readonly Settlement[]): Promise<void> {
  if (!settled.length) return;
  const input = JSON.stringify(
    settled.map(({ id, outcome: o, at }) => ({
      id,
      status: o.status,
      at: at.toISOString(),
      provider_ref: o.status === 'sent' ? o.providerRef : null,
      reason: o.status === 'sent' ? null : o.reason,
      error_code: o.status === 'failed' || o.status === 'queued' ? o.code : null,
      due_at: o.status === 'queued' ? o.dueAt.toISOString() : null,
    })),
  );
  await db.raw(
    `UPDATE notification_deliveries d SET
       status = x.status,
       lease_until = NULL,
       updated_at = x.at,
       provider_ref = CASE WHEN x.status = 'sent' THEN x.provider_ref ELSE d.provider_ref END,
       sent_at = CASE WHEN x.status = 'sent' THEN x.at ELSE d.sent_at END,
       reason = x.reason,
       error_code = CASE WHEN x.status = 'skipped' THEN d.error_code ELSE x.error_code END,
       due_at = coalesce(x.due_at, d.due_at)
     FROM jsonb_to_recordset(?::jsonb) AS x(id bigint, status text, at timestamptz, provider_ref text, reason text, error_code text, due_at timestamptz)
     WHERE d.id = x.id AND d.status = 'sending'`,
    [input],
  );
}

/** The deliveries of these notifications to this user, by notification id. */
export async function deliveriesOf(db: Db, userId: string, notificationIds: readonly string[]): Promise<Map<string, DeliveryView[]>> {
  const out = new Map<string, DeliveryView[]>();
  if (!notificationIds.length) return out;
  const rows: Array<{ notification_id: string; channel: DeliveryChannel; status: DeliveryStatus; reason: string | null; due_at: Date; sent_at: Date | null; attempts: number }> =
    await db('notification_deliveries')
      .where('user_id', userId)
      .whereIn('notification_id', [...notificationIds])
      .orderBy('id')
      .select('notification_id', 'channel', 'status', 'reason', 'due_at', 'sent_at', 'attempts');
  for (const r of rows) {
    const key = String(r.notification_id);
    const list = out.get(key) ?? [];
    list.push({
      channel: r.channel,
      status: r.status,
      reason: r.reason,
      dueAt: new Date(r.due_at).toISOString(),
      sentAt: r.sent_at ? new Date(r.sent_at).toISOString() : null,
      attempts: r.attempts,
    });
    out.set(key, list);
  }
  return out;
}

/** What a provider's status callback says became of a message it took. */
export type ProviderOutcome = { status: 'delivered' } | { status: 'failed'; code: string; reason: string };

/**
 * Records what the provider later said of a sent message, found by its reference on one of
 * `channels`. Only a row still `sent` changes, so a repeated or late callback has no further
 * effect. Returns how many rows changed (0 or 1).
 */
export async function recordProviderOutcome(db: Db, channels: readonly DeliveryChannel[], providerRef: string, outcome: ProviderOutcome, now: Date): Promise<number> {
  const fields = outcome.status === 'delivered' ? { status: 'delivered' } : { status: 'failed', error_code: outcome.code, reason: outcome.reason };
  return db('notification_deliveries')
    .whereIn('channel', [...channels])
    .andWhere({ provider_ref: providerRef, status: 'sent' })
    .update({ ...fields, updated_at: now });
}
