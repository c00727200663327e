import type { Knex } from 'knex';
import type { Db } from '../storage/db';
import type { ChannelName, EventRecord, NewEvent } from './event-types';
import { COMMIT_CHANNEL } from './commit-listener';

/**
 * Arbitrary but fixed: the key of the transaction-scoped advisory lock that serializes appends.
 * Holding it from id assignment to commit means ids become visible strictly in order, so a reader
 * that has seen id N can never later miss an id below N (no commit-order gaps).
 */
const APPEND_LOCK_KEY = 7_304_200_001;

/** Ids as the API accepts them: non-negative decimal integers that fit a bigint. */
export const EVENT_ID_PATTERN = /^(0|[1-9]\d{0,17})$/;

/** A row of `events` as the driver returns it. */
export interface EventRow {
  id: string;
  type: string;
  audience: ChannelName[];
  payload: unknown;
  occurred_at: Date | string;
}

export const toRecord = (r: EventRow): EventRecord => ({
  id: String(r.id),
  type: r.type,
  audience: r.audience,
  payload: r.payload,
  occurredAt: r.occurred_at instanceof Date ? r.occurred_at : new Date(r.occurred_at),
});

/**
 * Appends events inside the caller's transaction (the outbox): they commit or roll back with the
 * change that caused them. Take this as late in the transaction as possible; it serializes writers.
 *
 * `origin` is the NOTIFY payload: the committing instance's id, so that its own listener can skip
 * the wake-up (it has already poked its relay); '' for writers that serve no streams.
 */
export async function appendEvents(trx: Knex.Transaction, events: readonly NewEvent[], origin = ''): Promise<EventRecord[]> {
  if (events.length === 0) return [];
  const bindings: Knex.RawBinding[] = [APPEND_LOCK_KEY, origin];
  events.forEach((e, i) =>
    // jsonb; stringified so arrays and primitives are stored as JSON, not as PG arrays.
    bindings.push(e.type, e.audience, JSON.stringify(e.payload ?? null), i),
  );
  const { rows } = await trx
    .raw<{ rows: EventRow[] }>(appendSql(events.length), bindings)
    // The usual sizes are prepared once per connection, as each text is built once: no planning
    // on every append, which runs while the append lock is held.
    .options(events.length <= CACHED_UP_TO ? { name: `events_append_${events.length}` } : {});
  return rows.map(toRecord).sort((a, b) => compareIds(a.id, b.id));
}

/** The statement text for the usual small batches, built once each. */
const appendSqlByCount: string[] = [];
const CACHED_UP_TO = 16;

/**
 * One round trip: the lock, a NOTIFY that PostgreSQL delivers to other instances at commit, and
 * the insert. The lock is a materialized CTE that every inserted row is joined with, so it is
 * taken before the first row exists, and ids come from the sequence (above the join and the sort)
 * only while it is held; ORDER BY gives the ids in the order of `events`.
 */
function appendSql(count: number): string {
  if (count > CACHED_UP_TO) return buildAppendSql(count);
  return (appendSqlByCount[count] ??= buildAppendSql(count));
}

function buildAppendSql(count: number): string {
  return `WITH append_lock AS MATERIALIZED (SELECT pg_advisory_xact_lock(?), pg_notify('${COMMIT_CHANNEL}', ?))
INSERT INTO events (type, audience, payload)
SELECT v.type, v.audience, v.payload
FROM append_lock CROSS JOIN (VALUES ${Array.from({ length: count }, () => '(?::text, ?::text[], ?::jsonb, ?::int)').join(', ')}) AS v(type, audience, payload, ord)
ORDER BY v.ord
RETURNING id, type, audience, payload, occurred_at`;
}

export interface ReadOptions {
  /** Exclusive lower bound. */
  after: string;
  /** Inclusive upper bound; omit for "everything committed". */
  upTo?: string;
  /** Only events addressed to one of these channels; omit for all. */
  channels?: readonly ChannelName[];
  /** Only events of these types; omit for all. */
  types?: Iterable<string>;
  limit: number;
}

export async function readEvents(db: Db, o: ReadOptions): Promise<EventRecord[]> {
  const q = db<EventRow>('events').select('id', 'type', 'audience', 'payload', 'occurred_at').where('id', '>', o.after).orderBy('id', 'asc').limit(o.limit);
  if (o.upTo !== undefined) q.andWhere('id', '<=', o.upTo);
  if (o.channels) q.andWhereRaw('audience && ?::text[]', [[...o.channels]]);
  if (o.types) q.andWhereRaw('type = ANY(?::text[])', [[...o.types]]);
  return (await q).map(toRecord);
}

export interface LogBounds {
  /** The newest committed id ('0' for an empty, never-pruned log). */
  lastId: string;
  /** Every id at or below this has been pruned; a cursor below it cannot be honoured. */
  prunedThrough: string;
}

export async function logBounds(db: Db): Promise<LogBounds> {
  const row = await db('event_log_state')
    .first<{ last_id: string; pruned_through: string }>(
      db.raw('greatest((SELECT max(id) FROM events), pruned_through)::text AS last_id'),
      db.raw('pruned_through::text AS pruned_through'),
    )
    .where({ id: 1 });
  if (!row) throw new Error('event_log_state is missing its row; migrations did not run');
  return { lastId: row.last_id, prunedThrough: row.pruned_through };
}

export type CursorCheck = { ok: true; after: string } | { ok: false; reason: 'malformed' | 'pruned' | 'ahead' };

/** Whether a client's cursor can be resumed from exactly, against the log's current bounds. */
export function checkCursor(raw: string, bounds: LogBounds): CursorCheck {
  if (!EVENT_ID_PATTERN.test(raw)) return { ok: false, reason: 'malformed' };
  if (compareIds(raw, bounds.prunedThrough) < 0) return { ok: false, reason: 'pruned' };
  if (compareIds(raw, bounds.lastId) > 0) return { ok: false, reason: 'ahead' };
  return { ok: true, after: raw };
}

/** Deletes events older than `before`; returns how many. Cursors at or below them become resets. */
export async function pruneEvents(knex: Knex, before: Date): Promise<number> {
  return knex.transaction(async (trx) => {
    const row = await trx('events').max<{ max: string | null }>('id as max').where('occurred_at', '<', before).first();
    const through = row?.max;
    if (!through) return 0;
    const deleted = await trx('events').where('id', '<=', through).del();
    await trx('event_log_state')
      .where({ id: 1 })
      .update({ pruned_through: trx.raw('greatest(pruned_through, ?)', [through]) });
    return deleted;
  });
}

/** Numeric comparison of decimal id strings without converting through float. */
export function compareIds(a: string, b: string): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** An event row, or (the LEFT JOIN's row when there are none) nulls with the bound. */
type TailRow = { pruned_through: string } & (EventRow | { id: null });

/*
 * One statement: the next events after the cursor, and the retention bound read in the same
 * snapshot, so that what the read misses because it was pruned is covered by the bound. The LEFT
 * JOIN keeps the bound when there are no events. Prepared once per connection: it runs at least
 * every RELAY_POLL_MS on every instance.
 */
/** The name the tail read is prepared under; it also tells it apart in knex's query events. */
export const RELAY_TAIL_STATEMENT = 'relay_tail';

const TAIL_SQL = `
  SELECT s.pruned_through::text AS pruned_through, e.id, e.type, e.audience, e.payload, e.occurred_at
  FROM event_log_state s
  LEFT JOIN LATERAL (
    SELECT id, type, audience, payload, occurred_at FROM events WHERE id > ? ORDER BY id LIMIT ?
  ) e ON true
  WHERE s.id = 1
  ORDER BY e.id`;

/**
 * The relay's read (outbox-relay.ts): up to `limit` events after `after`, and the retention bound
 * (every id at or below it was pruned) read in the same snapshot.
 */
export async function readLogTail(knex: Knex, after: string, limit: number): Promise<{ events: EventRecord[]; prunedThrough: string }> {
  const { rows } = (await knex.raw(TAIL_SQL, [after, limit]).options({ name: RELAY_TAIL_STATEMENT })) as { rows: TailRow[] };
  const bound = rows[0]?.pruned_through;
  if (bound === undefined) throw new Error('event_log_state is missing its row; migrations did not run');
  return { events: rows.filter((r): r is TailRow & EventRow => r.id !== null).map(toRecord), prunedThrough: bound };
}

/*
 * One statement: the newest events of (from, to], every audience, and the retention bound read in
 * the same snapshot. The LEFT JOIN keeps the bound when there are no events. Newest first, so that
 * a gap larger than the poll window costs one bounded read, not a walk through it.
 */
const NEWEST_SQL = `
  SELECT s.pruned_through::text AS pruned_through, e.id, e.type, e.audience, e.payload, e.occurred_at
  FROM event_log_state s
  LEFT JOIN LATERAL (
    SELECT id, type, audience, payload, occurred_at FROM events
    WHERE id > ? AND id <= ? ORDER BY id DESC LIMIT ?
  ) e ON true
  WHERE s.id = 1`;

/**
 * The poll window's read (realtime/poll-window.ts): the newest `limit` events of (from, to], in id
 * order, and the retention bound read in the same snapshot.
 */
export async function readNewestOf(knex: Knex, from: string, to: string, limit: number): Promise<{ events: EventRecord[]; prunedThrough: string }> {
  const { rows } = await knex.raw<{ rows: TailRow[] }>(NEWEST_SQL, [from, to, limit]);
  const bound = rows[0]?.pruned_through;
  if (bound === undefined) throw new Error('event_log_state is missing its row; migrations did not run');
  return {
    events: rows
      .filter((r): r is TailRow & EventRow => r.id !== null)
      .reverse()
      .map(toRecord),
    prunedThrough: bound,
  };
}
