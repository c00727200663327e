/**
 * Event ids are decimal strings of a bigint (the log's sequence): compared as strings, "10" < "9".
 */

const ID = /^\d{1,20}$/;

export function isEventId(v: unknown): v is string {
  return typeof v === 'string' && ID.test(v);
}

/** True when `id` comes after `cursor` (anything does when there is no cursor yet). */
export function isAfter(id: string, cursor: string | null): boolean {
  return cursor === null || BigInt(id) > BigInt(cursor);
}
