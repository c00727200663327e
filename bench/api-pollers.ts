/**
 * The polling users of the api phase's polling steps against one server: their cursors, the
 * announcements each received, and the check that none was lost.
 */
import type { ApiOptions } from './api-load';
import { bump, inBatches, parse, type Call, type Target } from './api-calls';

export interface Poller {
  token: string;
  after: string;
  startedAfter: string;
  got: string[];
}

/** Pages that held events, and announcements a poller received twice or behind a later one. */
export interface Tally {
  withEvents: number;
  duplicates: number;
  outOfOrder: number;
}

export const newTally = (): Tally => ({ withEvents: 0, duplicates: 0, outOfOrder: 0 });

/** What the polling steps against one server share. */
export interface PollSession {
  o: ApiOptions;
  target: Target;
  say: (msg: string) => void;
  /** Requests through the steps' own pool. */
  call: Call;
  /** An admin's token, for the announcer. */
  admin: string;
  pollers: Poller[];
}

export function makePollers(o: ApiOptions, sign: (claims: Record<string, unknown>) => string, run: string): Poller[] {
  return Array.from({ length: o.pollUsers }, (_, i) => ({
    token: sign({ sub: `api-${run}-poll-${i}`, role: i % 2 ? 'provider' : 'client' }),
    after: '',
    startedAfter: '',
    got: [],
  }));
}

/** Each user's first poll: "from now" (no after), as a client starting up does. Not timed. */
export async function firstPolls(s: PollSession): Promise<Record<string, number>> {
  const firstErrors: Record<string, number> = {};
  await inBatches(s.pollers, s.o.pollConcurrency, async (p) => {
    const r = await s.call('GET', '/api/events', p.token);
    const b = r.status === 200 ? parse(r.body) : undefined;
    if (!b) return void bump(firstErrors, `HTTP ${r.status}`);
    p.after = p.startedAfter = String(b.lastEventId);
  });
  return firstErrors;
}

export function onPage(p: Poller, b: { events: Array<{ id: string; type: string }>; lastEventId: string }, t: Tally): void {
  for (const e of b.events) {
    if (e.type !== 'announcement') continue;
    const last = p.got[p.got.length - 1];
    if (last !== undefined && BigInt(e.id) <= BigInt(last)) {
      if (p.got.includes(e.id)) t.duplicates++;
      else t.outOfOrder++;
      continue;
    }
    p.got.push(e.id);
  }
  if (b.events.length) t.withEvents++;
  p.after = String(b.lastEventId);
}

/**
 * Everyone catches up once more (pages until hasMore is false), then must hold every
 * announcement made after their starting cursor.
 */
export async function catchUpAndCountLost(s: PollSession, announced: string[], t: Tally, errors: Record<string, number>): Promise<number> {
  await inBatches(s.pollers, s.o.pollConcurrency, async (p) => {
    for (let i = 0; i < 20; i++) {
      const r = await s.call('GET', `/api/events?after=${p.after}&limit=500`, p.token);
      const b = r.status === 200 ? parse(r.body) : undefined;
      if (!b) return void bump(errors, `final HTTP ${r.status}`);
      onPage(p, b, t);
      if (!b.hasMore) return;
    }
  });
  let lost = 0;
  for (const p of s.pollers) {
    const have = new Set(p.got);
    for (const id of announced) if (BigInt(id) > BigInt(p.startedAfter || '0') && !have.has(id)) lost++;
  }
  return lost;
}
