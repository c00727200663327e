/**
 * The longpoll phase's integrity: every event each poll or stream was sent arrived, once, to its
 * user only; from the two clients' reports per phase.
 */
import type { ClientStatus, PhaseReport } from './protocol';
import type { LongPollStatus } from './long-poll-client';
import type { LongPollSession } from './longpoll-session';
import type { LongPollResult } from './longpoll';

export interface LongPollTally {
  /** Each phase's report, from the client that held its polls or streams. */
  reports: Map<string, PhaseReport>;
  /** Events sent to polls and streams, and what became of them. */
  counts: { expected: number; received: number; lost: number; duplicates: number; misdelivered: number };
  pollClient: LongPollStatus;
  streamClient: ClientStatus;
}

/** Every phase's receipts per poller or stream against what each was sent. */
export async function tally(s: LongPollSession): Promise<LongPollTally> {
  const reports = new Map<string, PhaseReport>();
  const t = { expected: 0, received: 0, lost: 0, duplicates: 0, misdelivered: 0 };
  for (const [phase, exp] of s.expected) {
    const client = phase.startsWith('st') ? s.sc : s.lp;
    const rep = await client.rpc.call<PhaseReport>('report', { phase });
    reports.set(phase, rep);
    for (const [i, n] of exp) {
      const got = rep.perStream[i] ?? 0;
      t.expected += n;
      t.received += Math.min(got, n);
      if (got < n) t.lost += n - got;
    }
    t.duplicates += rep.duplicates;
    // A stamp naming another user, or more receipts on a user than were sent to it.
    let extra = 0;
    rep.perStream.forEach((got, i) => (extra += Math.max(0, got - (exp.get(i) ?? 0))));
    t.misdelivered += Math.max(rep.misdelivered, extra);
  }
  const pollClient = await s.pollStatus();
  const streamClient = await s.sc.rpc.call<ClientStatus>('status');
  return { reports, counts: t, pollClient, streamClient };
}

/** The tally, with the publish errors and the short polls' errors named as such. */
export function integrityFigures(s: LongPollSession, t: LongPollTally, shortErrors: Record<string, number>): LongPollResult['integrity'] {
  return {
    ...t.counts,
    publishErrors: { ...s.publishErrors, ...Object.fromEntries(Object.entries(shortErrors).map(([k, v]) => [`short poll: ${k}`, v])) },
    pollClient: t.pollClient,
    streamClient: t.streamClient,
  };
}
