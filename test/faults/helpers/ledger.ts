import { Client } from 'pg';
import { channelsFor, isAddressedTo } from '../../../src/events/audience';
import type { Role } from '../../../src/contract/vocabulary';
import type { Delivery, ResumingClient } from './resuming-client';

export interface LoggedEvent {
  id: string;
  type: string;
  audience: string[];
}

/** The ledger: what committed, read from the `events` table after the fact. */
export async function readLedger(databaseUrl: string, after: string): Promise<LoggedEvent[]> {
  const c = new Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const r = await c.query('SELECT id::text AS id, type, audience FROM events WHERE events.id > $1::bigint ORDER BY events.id', [after]);
    return r.rows;
  } finally {
    await c.end();
  }
}

export async function lastEventId(databaseUrl: string): Promise<string> {
  const c = new Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const r = await c.query('SELECT coalesce(max(id), 0)::text AS id FROM events');
    return r.rows[0].id;
  } finally {
    await c.end();
  }
}

/** What one user must have received: every logged event addressed to `user:<sub>`, `role:<role>` or `all`, in id order. */
export function expectedFor(ledger: readonly LoggedEvent[], sub: string, role: Role): LoggedEvent[] {
  const channels = channelsFor({ userId: sub, role });
  return ledger.filter((e) => isAddressedTo(e.audience, channels));
}

export interface Comparison {
  expected: number;
  received: number;
  lost: string[];
  duplicated: string[];
  /** Received but not addressed to this user (or not in the log at all). */
  misdelivered: string[];
  outOfOrder: number;
}

/** Compares one client's deliveries with its share of the ledger. */
export function compare(expected: readonly LoggedEvent[], received: readonly Delivery[]): Comparison {
  const want = new Set(expected.map((e) => e.id));
  const seen = new Set<string>();
  const duplicated: string[] = [];
  let outOfOrder = 0;
  let prev = 0n;
  for (const d of received) {
    if (seen.has(d.id)) duplicated.push(d.id);
    seen.add(d.id);
    const n = BigInt(d.id);
    if (n <= prev) outOfOrder++;
    prev = n > prev ? n : prev;
  }
  return {
    expected: expected.length,
    received: received.length,
    lost: [...want].filter((id) => !seen.has(id)),
    duplicated,
    misdelivered: [...seen].filter((id) => !want.has(id)),
    outOfOrder,
  };
}

export const isClean = (c: Comparison) => c.lost.length + c.duplicated.length + c.misdelivered.length + c.outOfOrder === 0;

/**
 * Gives every client until `timeoutMs` to receive the last ledger event addressed to it, then
 * waits a little more, so a late duplicate or stray event would be counted too. Clients that do
 * not get there are not an error here: the comparison that follows says what they miss.
 */
export async function catchUp(clients: readonly ResumingClient[], ledger: readonly LoggedEvent[], timeoutMs: number): Promise<void> {
  await Promise.all(
    clients.map((c) => {
      const mine = expectedFor(ledger, c.sub, c.role as Role);
      return mine.length ? c.waitForId(mine[mine.length - 1].id, timeoutMs) : Promise.resolve(true);
    }),
  );
  await new Promise((r) => setTimeout(r, 500));
}

/**
 * Every client's deliveries against its share of the ledger: what is wrong, per client (nothing
 * when all is well: no loss, duplicate, stray, reordering or reset), and how many were checked.
 */
export function checkClients(clients: readonly ResumingClient[], ledger: readonly LoggedEvent[]) {
  let deliveries = 0;
  const problems: Array<{ who: string; resets: number } & Omit<Comparison, 'expected' | 'received'>> = [];
  for (const c of clients) {
    const r = compare(expectedFor(ledger, c.sub, c.role as Role), c.received);
    deliveries += c.received.length;
    if (!isClean(r) || c.resets.length) {
      problems.push({ who: c.sub, resets: c.resets.length, lost: r.lost, duplicated: r.duplicated, misdelivered: r.misdelivered, outOfOrder: r.outOfOrder });
    }
  }
  return { deliveries, problems };
}
