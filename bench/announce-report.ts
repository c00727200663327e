/** The announcement-to-all phase (announce.ts) has no baseline equivalent: a table of its own. */
import { checkedTable, median, type CheckedRow } from './report';
import type { AnnounceResult } from './announce';
import type { Options } from './options';

export function announceRows(list: AnnounceResult[]): CheckedRow[] {
  const done = list.filter((r) => r.skipped === null);
  if (done.length === 0) return [];
  const first = done[0];
  const med = (f: (r: AnnounceResult) => number | null) => median(done.map(f).filter((v): v is number => v !== null && !Number.isNaN(v)));
  const sum = (f: (r: AnnounceResult) => number) => done.reduce((a, r) => a + f(r), 0);
  const S = first.sample;
  const how = first.users.via === 'sql-insert' ? 'one INSERT via pg' : 'GET /api/me, 50 at a time';
  const after = first.rows.method === 'after-stop' ? ', counted after stop' : '';
  return [
    {
      metric: 'users in the database (half client, half provider)',
      unit: 'users',
      value: med((r) => r.users.created),
      digits: 0,
      expect: first.users.requested,
    },
    { metric: `time to create them (${how})`, unit: 's', value: med((r) => r.users.seconds), digits: 2, better: 'lower' },
    { metric: 'time to send: POST /api/broadcasts {all} -> 202', unit: 'ms', value: med((r) => r.send.ms), digits: 1, better: 'lower' },
    { metric: 'server CPU for the send', unit: 'ms', value: med((r) => r.send.serverCpuMs), digits: 1, better: 'lower' },
    { metric: `rows written by the send: notifications${after}`, unit: 'rows', value: med((r) => r.rows.sendNotifications), digits: 0, expect: 1 },
    { metric: 'rows written by the send: notification_reads', unit: 'rows', value: med((r) => r.rows.sendReads), digits: 0, expect: 0 },
    { metric: `sampled users (random), requests one at a time`, unit: 'users', value: S, digits: 0 },
    { metric: 'GET /api/notifications p50, before the announcement', unit: 'ms', value: med((r) => r.before.inbox.p50Ms), digits: 2, better: 'lower' },
    { metric: 'GET /api/notifications p50, afterwards (inbox)', unit: 'ms', value: med((r) => r.inbox.p50Ms), digits: 2, better: 'lower' },
    { metric: 'GET /api/notifications p99, afterwards', unit: 'ms', value: med((r) => r.inbox.p99Ms), digits: 2, better: 'lower' },
    { metric: 'GET /api/me p50, before the announcement', unit: 'ms', value: med((r) => r.before.me.p50Ms), digits: 2, better: 'lower' },
    { metric: 'GET /api/me p50, afterwards (unread count)', unit: 'ms', value: med((r) => r.me.p50Ms), digits: 2, better: 'lower' },
    { metric: 'GET /api/me p99, afterwards', unit: 'ms', value: med((r) => r.me.p99Ms), digits: 2, better: 'lower' },
    { metric: 'POST /api/notifications/read-all p50', unit: 'ms', value: med((r) => r.readAll.p50Ms), digits: 2, better: 'lower' },
    { metric: 'POST /api/notifications/read-all p99', unit: 'ms', value: med((r) => r.readAll.p99Ms), digits: 2, better: 'lower' },
    { metric: `rows written by read-all: notification_reads${after}`, unit: 'rows', value: med((r) => r.rows.readAllReads), digits: 0, expect: S },
    { metric: `rows written by read-all: notifications marked read${after}`, unit: 'rows', value: med((r) => r.rows.readAllMarked), digits: 0, expect: 0 },
    { metric: 'errors (status, announcement missing, unread count)', unit: 'count', value: sum((r) => r.errors.count), digits: 0, expect: 0 },
    { metric: 'server warn/error log lines during run', unit: 'lines', value: sum((r) => r.server.warningCount), digits: 0, expect: 0 },
  ];
}

export function announceReport(list: AnnounceResult[], tableRows: CheckedRow[], opts: Options): string[] {
  const out: string[] = [''];
  const first = list[0];
  out.push(
    `Announcement to all: ${first.users.requested} users, 1 POST /api/broadcasts {all: true}, then ${opts.announceSample} random users ` +
      `read their inbox and unread count and mark all read; own server and fresh database (${first.database}); no baseline equivalent` +
      (list.length > 1 ? `; medians of ${list.length} rounds (counts are totals)` : ''),
  );
  out.push('');
  if (tableRows.length) out.push(checkedTable(tableRows, opts.embedded ? 'ours (pglite)' : 'ours (postgres)'));
  for (const r of list) {
    if (r.skipped) {
      out.push(`announce: SKIPPED: ${r.skipped}`);
      continue;
    }
    out.push(
      `announce: startup ${r.startupMs} ms; users created at ${r.users.perSec.toFixed(0)}/s; event ${r.send.eventId ?? 'n/a'}; ` +
        (r.rows.method === 'after-stop'
          ? `rows counted after the server stopped (PGlite is the server's while it runs): ${JSON.stringify(r.rows.afterReadAll)}`
          : `rows before ${JSON.stringify(r.rows.before)}, after send ${JSON.stringify(r.rows.afterSend)}, after read-all ${JSON.stringify(r.rows.afterReadAll)}`),
    );
    for (const w of r.server.startupWarnings) out.push(`  announce server at startup: ${w}`);
    if (r.server.warningCount > 0) out.push(`  announce server logged ${r.server.warningCount} warn/error lines, first: ${r.server.warnings[0]}`);
    if (r.errors.count > 0) {
      out.push(`  announce: ${r.errors.count} errors${r.errors.count > r.errors.first.length ? ` (first ${r.errors.first.length})` : ''}:`);
      for (const e of r.errors.first) out.push(`    ${e}`);
    }
  }
  out.push('');
  return out;
}
