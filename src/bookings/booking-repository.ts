import type { Db } from '../storage/db';
import type { BookingStatus } from '../contract/vocabulary';
import type { BookingView } from './booking-schemas';

export interface BookingRow {
  id: string;
  client_id: string;
  provider_id: string;
  service: string;
  scheduled_for: Date;
  amount: string;
  currency: string;
  notes: string | null;
  status: BookingStatus;
  reason: string | null;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
}

interface ViewRow extends BookingRow {
  payment_id: string | null;
  payment_reference: string | null;
  payment_status: string | null;
  payment_amount: string | null;
  payout_id: string | null;
  payout_status: string | null;
  payout_amount: string | null;
  payout_reason: string | null;
}

const iso = (d: Date | string) => (d instanceof Date ? d : new Date(d)).toISOString();

function toView(r: ViewRow): BookingView {
  return {
    id: String(r.id),
    clientId: r.client_id,
    providerId: r.provider_id,
    service: r.service,
    scheduledFor: iso(r.scheduled_for),
    amount: Number(r.amount),
    currency: r.currency,
    notes: r.notes,
    status: r.status,
    reason: r.reason,
    payment: r.payment_id ? { id: String(r.payment_id), reference: r.payment_reference!, status: r.payment_status!, amount: Number(r.payment_amount) } : null,
    payout: r.payout_id
      ? {
          id: String(r.payout_id),
          status: r.payout_status!,
          amount: Number(r.payout_amount),
          ...(r.payout_reason ? { reason: r.payout_reason } : {}),
        }
      : null,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

function viewQuery(db: Db) {
  // The booking's live payment, or else its latest (an expired checkout leaves a row behind).
  return db('bookings as b')
    .joinRaw(
      `LEFT JOIN LATERAL (SELECT * FROM payments p0 WHERE p0.booking_id = b.id ORDER BY p0.status IN ('EXPIRED', 'FAILED'), p0.id DESC LIMIT 1) p ON true`,
    )
    .leftJoin('payouts as o', 'o.booking_id', 'b.id')
    .select(
      'b.*',
      'p.id as payment_id',
      'p.reference as payment_reference',
      'p.status as payment_status',
      'p.amount as payment_amount',
      'o.id as payout_id',
      'o.status as payout_status',
      'o.amount as payout_amount',
      'o.reason as payout_reason',
    );
}

export async function findBookingView(db: Db, id: string): Promise<BookingView | undefined> {
  const row = (await viewQuery(db).where('b.id', id).first()) as ViewRow | undefined;
  return row && toView(row);
}

export async function listBookingViews(db: Db, o: { userId?: string; status?: BookingStatus; before?: string; limit: number }): Promise<BookingView[]> {
  const q = viewQuery(db).orderBy('b.id', 'desc').limit(o.limit);
  const userId = o.userId;
  if (userId) {
    q.where((w) => {
      w.where('b.client_id', userId).orWhere('b.provider_id', userId);
    });
  }
  if (o.status) q.andWhere('b.status', o.status);
  if (o.before) q.andWhere('b.id', '<', o.before);
  return ((await q) as ViewRow[]).map(toView);
}

/** Row lock for the rest of the transaction: of two racing moves, the second sees the first's result. */
export async function lockBooking(db: Db, id: string): Promise<BookingRow | undefined> {
  return db<BookingRow>('bookings').where({ id }).forUpdate().first();
}

/**
 * Several bookings locked in id order: two transactions locking overlapping sets (two instances'
 * booking clocks) take the locks in the same order, so neither waits for the other in a cycle.
 */
export async function lockBookings(db: Db, ids: readonly string[]): Promise<Map<string, BookingRow>> {
  if (!ids.length) return new Map();
  const rows: BookingRow[] = await db<BookingRow>('bookings')
    .whereIn('id', [...new Set(ids)])
    .orderBy('id')
    .forUpdate();
  return new Map(rows.map((r) => [String(r.id), r]));
}

export async function insertBooking(
  db: Db,
  b: Pick<BookingRow, 'client_id' | 'provider_id' | 'service' | 'currency' | 'notes'> & { amount: number; scheduled_for: Date },
): Promise<string> {
  const [row] = await db('bookings')
    .insert({ ...b, status: 'PENDING' satisfies BookingStatus })
    .returning<{ id: string }[]>('id');
  return String(row.id);
}

export async function updateBookingStatus(db: Db, id: string, status: BookingStatus, reason?: string): Promise<void> {
  await db('bookings')
    .where({ id })
    .update({
      status,
      ...(reason !== undefined ? { reason } : {}),
      ...(status === 'COMPLETED' ? { completed_at: db.fn.now() } : {}),
      updated_at: db.fn.now(),
    });
}

/**
 * Completed bookings whose escrow waits for the client, with nothing holding it (no card dispute,
 * no client dispute), whose `greatest(completed_at, scheduled_for) + hours` has passed `at`.
 * `unreminded` narrows to those whose client has not had the reminder yet.
 */
export async function findEscrowDueBy(db: Db, hours: number, at: Date, o: { unreminded?: boolean; limit: number }): Promise<string[]> {
  const q = db('bookings as b')
    .join('payments as p', 'p.booking_id', 'b.id')
    .where({ 'b.status': 'COMPLETED', 'p.status': 'ESCROW' })
    .whereNull('p.disputed_at')
    .whereNull('p.client_disputed_at')
    .whereRaw(`greatest(coalesce(b.completed_at, b.updated_at), b.scheduled_for) + make_interval(hours => ?) < ?`, [hours, at])
    .select('b.id')
    .orderBy('b.id')
    .limit(o.limit);
  if (o.unreminded) q.whereNull('b.release_reminded_at');
  return ((await q) as Array<{ id: string }>).map((r) => String(r.id));
}

export async function markReleaseReminded(db: Db, id: string): Promise<boolean> {
  return (await db('bookings').where({ id }).whereNull('release_reminded_at').update({ release_reminded_at: db.fn.now() })) > 0;
}

/**
 * PENDING bookings from one client to one provider, counted under a lock on the client's user row:
 * two racing requests of one client cannot both see room for one more.
 */
export async function lockAndCountPending(db: Db, clientId: string, providerId: string): Promise<number> {
  await db('users').where({ id: clientId }).forUpdate().first('id');
  const [{ n }] = await db('bookings')
    .where({ client_id: clientId, provider_id: providerId, status: 'PENDING' satisfies BookingStatus })
    .count<{ n: string | number }[]>({ n: '*' });
  return Number(n);
}
