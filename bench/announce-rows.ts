/**
 * The rows the announce phase counts in `notifications` and `notification_reads`: through the
 * driver's `pg` session around each step (PostgreSQL), or once in the PGlite folder after the
 * server stopped.
 */
import path from 'node:path';
import type { Client } from 'pg';
import type { AnnounceResult } from './announce';

export interface RowCounts {
  notifications: number;
  /** Personal notifications with read_at set (read-all updates these rather than inserting). */
  notificationsRead: number;
  /** The admin's own (the warm-up broadcast's) rows. */
  adminOwn: number;
  notificationReads: number;
}

const COUNT_SQL = `SELECT count(*) AS n,
       count(*) FILTER (WHERE read_at IS NOT NULL) AS nr,
       count(*) FILTER (WHERE user_id = $1) AS admin,
       (SELECT count(*) FROM notification_reads) AS r
  FROM notifications`;

type CountRow = Record<'n' | 'nr' | 'admin' | 'r', string | number>;
const toCounts = (row: CountRow): RowCounts => ({
  notifications: Number(row.n),
  notificationsRead: Number(row.nr),
  adminOwn: Number(row.admin),
  notificationReads: Number(row.r),
});

export async function countRows(c: Client, adminId: string): Promise<RowCounts> {
  return toCounts((await c.query<CountRow>(COUNT_SQL, [adminId])).rows[0]);
}

/** Totals in a PGlite folder nobody else holds (the server has stopped). */
async function countRowsPglite(dataDir: string, adminId: string): Promise<RowCounts> {
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create(path.join(dataDir, 'pg'));
  try {
    return toCounts((await db.query<CountRow>(COUNT_SQL, [adminId])).rows[0]);
  } finally {
    await db.close();
  }
}

/**
 * The database was fresh and only the admin's warm-up, the announcement and read-all wrote these
 * tables: totals after the server stopped stand in for before/after counts. Reads written by the
 * send (there should be none) cannot be told from read-all's here.
 */
export async function countRowsAfterStop(dataDir: string, adminId: string, rows: AnnounceResult['rows'], say: (msg: string) => void): Promise<void> {
  try {
    const total = await countRowsPglite(dataDir, adminId);
    rows.method = 'after-stop';
    rows.afterReadAll = total;
    rows.sendNotifications = total.notifications - total.adminOwn;
    rows.readAllReads = total.notificationReads;
    rows.readAllMarked = total.notificationsRead;
  } catch (err) {
    say(`could not count rows in the PGlite folder after the server stopped: ${(err as Error).message}`);
  }
}
