import type { Knex } from 'knex';
import type { DeliveryView } from '../contract/views';
import type { Db } from '../storage/db';
import type { DeliveryChannel } from '../contract/vocabulary';
import type { NotificationView } from '../contract/views';
import type { PushSubscriptionRow } from './push-repository';

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
  /** The recipient's role (which dashboard a push opens). */
  role: string | null;
  /** Push only: the recipient's subscriptions, read in the claim. */
  push_subscriptions: PushSubscriptionRow[] | null;
}

/** The view of one delivery in GET /api/notifications. */
export type { DeliveryView } from '../contract/views';

/** bigint columns arrive as strings from pg, as numbers from PGlite. */
interface CursorRow {
  name: string;
  last_event_id: string | number;
}

/** An event the dispatcher reads: the payload only of notifications (the rest move the cursor past them). */
export interface LoggedEvent {
  id: string;
  type: string;
  audience: string[];
  payload: { notification?: NotificationView } | null;
}

/**
 * The cursor row, locked for this transaction, and the next `limit` events after it in id order,
 * in one statement. `cursor` is null while another instance holds the cursor.
 */
export async function lockCursorAndRead(trx: Knex.Transaction, limit: number): Promise<{ cursor: string | null; events: LoggedEvent[] }> {
  const { rows } = await trx.raw<{ rows: Array<{ cursor: string; id: string | null; type: string; audience: string[]; payload: LoggedEvent['payload'] }> }>(
    `WITH c AS (SELECT last_event_id FROM dispatch_cursors WHERE name = ? FOR UPDATE SKIP LOCKED)
     SELECT c.last_event_id::text AS cursor, e.id::text AS id, e.type, e.audience,
       CASE WHEN e.type = 'notification.created' THEN e.payload END AS payload
     FROM c LEFT JOIN LATERAL (SELECT id, type, audience, payload FROM events WHERE id > c.last_event_id ORDER BY id LIMIT ?) e ON true
     ORDER BY e.id`,
    [DISPATCH_CURSOR, limit],
  );
  if (!rows.length) return { cursor: null, events: [] };
  const events = rows.filter((r) => r.id !== null).map((r) => ({ id: r.id!, type: r.type, audience: r.audience, payload: r.payload }));
  return { cursor: rows[0].cursor, events };
}

export async function cursorPosition(db: Db): Promise<string> {
  const row = await db<CursorRow>('dispatch_cursors').where({ name: DISPATCH_CURSOR }).first('last_event_id');
  return String(row?.last_event_id ?? '0');
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

/**
 * Writes the deliveries of a batch of events and moves the cursor past its last event, in one
 * statement. A second insert of the same notification, user and channel changes nothing.
 */
export async function recordDeliveriesAndAdvance(trx: Knex.Transaction, rows: readonly NewDelivery[], lastEventId: string): Promise<void> {
  const input = JSON.stringify(
    rows.map((r) => ({
      notification_id: r.notificationId,
      user_id: r.userId,
      channel: r.channel,
      status: r.status,
      reason: r.reason,
      address: r.address,
      notified_at: r.notifiedAt.toISOString(),
      due_at: r.dueAt.toISOString(),
    })),
  );
  await trx.raw(
    `WITH ins AS (
       INSERT INTO notification_deliveries (notification_id, user_id, channel, status, reason, address, notified_at, due_at)
       SELECT notification_id, user_id, channel, status, reason, address, notified_at, due_at
       FROM jsonb_to_recordset(?::jsonb) AS x(notification_id bigint, user_id text, channel text, status text, reason text, address text, notified_at timestamptz, due_at timestamptz)
       ON CONFLICT (notification_id, user_id, channel) DO NOTHING
     )
     UPDATE dispatch_cursors SET last_event_id = ?, updated_at = now() WHERE name = ?`,
    [input, lastEventId, DISPATCH_CURSOR],
  );
}

/** What one claim found: deliveries to send, those it skipped, crashed sends it gave up on, and when the next one is due. */
export interface ClaimedBatch {
  toSend: ClaimedDelivery[];
  skipped: SkippedDelivery[];
  /** Sends interrupted by a crash (their lease ran out while `sending`), now failed. */
  abandoned: number;
  /** The earliest due time of a queued delivery not yet due, or null when none is queued. */
  nextDue: Date | null;
}

/** A due delivery the claim settled as skipped: read before it was due, or its recipient streaming. */
export interface SkippedDelivery {
  id: string;
  channel: DeliveryChannel;
  notified_at: Date;
}

const ABANDONED_REASON = 'interrupted while sending; not sent again, so it went at most once';

/**
 * One statement per batch. A send interrupted by a crash (its lease ran out while `sending`) may
 * or may not have reached the provider: it is marked failed, never sent again. Then up to `limit`
 * due deliveries are claimed: SKIP LOCKED keeps two instances from claiming the same row; one
 * read before it was due (for the channels `cancelledByReading` names) or a push to someone with
 * a live stream on any instance (stream_presence) is settled as skipped at once; the rest move
 * to `sending` with a lease, with the notification, the recipient's role and, for push, their
 * subscriptions. Presence is checked against the database's clock, not `now`: it is about who is
 * streaming at this moment.
 */
export async function claimDue(
  db: Db,
  now: Date,
  o: { limit: number; leaseMs: number; cancelledByReading: readonly DeliveryChannel[] },
): Promise<ClaimedBatch> {
  const { rows } = await db.raw<{ rows: ClaimRow[] }>(
    `WITH abandoned AS (
       UPDATE notification_deliveries
       SET status = 'failed', error_code = 'SEND_OUTCOME_UNKNOWN', reason = ?, lease_until = NULL, updated_at = ?
       WHERE status = 'sending' AND lease_until < ?
       RETURNING 1
     ), due AS (
       SELECT id FROM notification_deliveries
       WHERE status = 'queued' AND due_at <= ?
       ORDER BY due_at, id
       LIMIT ?
       FOR UPDATE SKIP LOCKED
     ), judged AS (
       SELECT d.id, CASE
           WHEN d.channel = ANY(?::text[]) AND (n.read_at IS NOT NULL OR EXISTS (
             SELECT 1 FROM notification_reads r WHERE r.notification_id = n.id AND r.user_id = d.user_id
           )) THEN 'read before it was due'
           WHEN d.channel = 'push' AND EXISTS (
             SELECT 1 FROM stream_presence p JOIN instance_heartbeats h ON h.instance_id = p.instance_id
             WHERE p.user_id = d.user_id AND h.expires_at > now()
           ) THEN 'a live stream was open'
         END AS skip
       FROM due JOIN notification_deliveries d ON d.id = due.id JOIN notifications n ON n.id = d.notification_id
     ), claimed AS (
       UPDATE notification_deliveries d
       SET status = CASE WHEN j.skip IS NULL THEN 'sending' ELSE 'skipped' END,
         attempts = d.attempts + 1,
         lease_until = CASE WHEN j.skip IS NULL THEN ?::timestamptz END,
         reason = coalesce(j.skip, d.reason),
         updated_at = ?
       FROM judged j
       WHERE d.id = j.id
       RETURNING d.id, d.notification_id, d.user_id, d.channel, d.address, d.attempts, d.notified_at, d.due_at, d.status
     )
     SELECT c.id::text AS id, c.notification_id::text AS notification_id, c.user_id, c.channel, c.address, c.attempts, c.notified_at, c.due_at, c.status,
       n.type, n.title, n.body, n.data, u.role,
       CASE WHEN c.channel = 'push' AND c.status = 'sending' THEN coalesce((
         SELECT jsonb_agg(jsonb_build_object('id', ps.id::text, 'user_id', ps.user_id, 'endpoint', ps.endpoint, 'p256dh', ps.p256dh, 'auth', ps.auth) ORDER BY ps.id)
         FROM push_subscriptions ps WHERE ps.user_id = c.user_id
       ), '[]'::jsonb) END AS push_subscriptions,
       (SELECT count(*) FROM abandoned)::int AS abandoned,
       (SELECT min(due_at) FROM notification_deliveries WHERE status = 'queued' AND due_at > ?) AS next_due
     FROM (SELECT 1) one
     LEFT JOIN claimed c ON true
     LEFT JOIN notifications n ON n.id = c.notification_id AND c.status = 'sending'
     LEFT JOIN users u ON u.id = c.user_id AND c.status = 'sending'`,
    [ABANDONED_REASON, now, now, now, o.limit, [...o.cancelledByReading], new Date(now.getTime() + o.leaseMs), now, now],
  );
  const batch: ClaimedBatch = {
    toSend: [],
    skipped: [],
    abandoned: Number(rows[0]?.abandoned ?? 0),
    nextDue: rows[0]?.next_due ? new Date(rows[0].next_due) : null,
  };
  for (const r of rows) {
    if (r.id === null) continue;
    if (r.status === 'skipped') batch.skipped.push({ id: r.id, channel: r.channel, notified_at: r.notified_at });
    else {
      const { status: _status, abandoned: _abandoned, next_due: _next, ...d } = r;
      batch.toSend.push({ ...d, id: r.id, notification_id: r.notification_id! });
    }
  }
  return batch;
}

type ClaimRow = Omit<ClaimedDelivery, 'id' | 'notification_id'> & {
  id: string | null;
  notification_id: string | null;
  status: 'sending' | 'skipped';
  abandoned: number;
  next_due: Date | string | null;
};

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
  const rows: Array<{
    notification_id: string;
    channel: DeliveryChannel;
    status: DeliveryStatus;
    reason: string | null;
    due_at: Date;
    sent_at: Date | null;
    attempts: number;
  }> = await db('notification_deliveries')
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
export async function recordProviderOutcome(
  db: Db,
  channels: readonly DeliveryChannel[],
  providerRef: string,
  outcome: ProviderOutcome,
  now: Date,
): Promise<number> {
  const fields = outcome.status === 'delivered' ? { status: 'delivered' } : { status: 'failed', error_code: outcome.code, reason: outcome.reason };
  return db('notification_deliveries')
    .whereIn('channel', [...channels])
    .andWhere({ provider_ref: providerRef, status: 'sent' })
    .update({ ...fields, updated_at: now });
}
