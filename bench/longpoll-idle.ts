/**
 * The longpoll phase's idle window: every poller left alone for whole POLL_MAX_WAIT_S cycles, the
 * requests each client sent per minute and the server's CPU for them.
 */
import { readMetrics, type MetricsSample } from './http';
import type { LongPollStatus } from './long-poll-client';
import type { LongPollSession } from './longpoll-session';
import type { LongPollOptions, LongPollResult } from './longpoll';
import { sleep } from '../test/support/sleep';

export interface IdleStep {
  /** The long-poll client's and the server's counters at the window's start and end. */
  i0: LongPollStatus;
  i1: LongPollStatus;
  mi0: MetricsSample;
  mi1: MetricsSample;
}

export async function runIdle(s: LongPollSession): Promise<IdleStep> {
  const { o } = s;
  s.say(`idle: ${o.idleSeconds} s with nothing sent (POLL_MAX_WAIT_S=${o.waitS})`);
  const i0 = await s.pollStatus();
  const mi0 = await readMetrics(s.server.url);
  await sleep(o.idleSeconds * 1000);
  const i1 = await s.pollStatus();
  const mi1 = await readMetrics(s.server.url);
  return { i0, i1, mi0, mi1 };
}

export function idleFigures(o: LongPollOptions, { i0, i1, mi0, mi1 }: IdleStep): LongPollResult['idle'] {
  const clients = i1.pollers;
  const idleRequests = i1.requests - i0.requests;
  return {
    seconds: o.idleSeconds,
    clients,
    requests: idleRequests,
    perClientPerMin: idleRequests / Math.max(1, clients) / (o.idleSeconds / 60),
    targetPerMin: 60 / o.waitS + 1,
    answersWithEvents: i1.requests - i0.requests - (i1.emptyAnswers - i0.emptyAnswers),
    serverCpuMsPerClientPerMin: ((mi1.cpuSeconds - mi0.cpuSeconds) * 1e3) / Math.max(1, clients) / (o.idleSeconds / 60),
  };
}
