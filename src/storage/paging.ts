/**
 * Keyset paging by id: callers fetch `limit + 1` rows in id order; the extra row only says
 * whether there is a next page, whose cursor is the last id returned.
 */
export function pageOf<T extends { id: string | number }>(rows: T[], limit: number): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? String(items[items.length - 1].id) : null };
}
