/**
 * The closed-loop polling step: C connections, each sends its next poll when the previous one is
 * answered. Its requests/s is the saturation throughput; its latency is forced to C / throughput.
 */
import { nowMs } from './protocol';
import { readMetrics } from './http';
import { summarize } from './report';
import type { ClosedLoopFigures } from './api-load';
import { bump, parse } from './api-calls';
import { startAnnouncer } from './api-announcer';
import { catchUpAndCountLost, newTally, onPage, type PollSession, type Tally } from './api-pollers';

/** The first polls' errors count with the step's own. */
export async function measureClosedLoop(s: PollSession, firstErrors: Record<string, number>): Promise<ClosedLoopFigures> {
  const { o, target } = s;
  const closedAnnouncer = startAnnouncer(s.call, s.admin);
  const announced = closedAnnouncer.announced;
  const latencies: number[] = [];
  const pollErrors: Record<string, number> = { ...firstErrors };
  const closed = newTally();
  const m0 = await readMetrics(target.url);
  const tPoll = nowMs();
  await pollUntil(s, tPoll + o.pollSeconds * 1000, latencies, pollErrors, closed);
  const tPollEnd = nowMs();
  const m1 = await readMetrics(target.url);
  await closedAnnouncer.stop();
  const lost = await catchUpAndCountLost(s, announced, closed, pollErrors);
  const lat = summarize(latencies);
  const polling: ClosedLoopFigures = {
    users: o.pollUsers,
    concurrency: o.pollConcurrency,
    seconds: (tPollEnd - tPoll) / 1000,
    requests: latencies.length,
    perSec: latencies.length / ((tPollEnd - tPoll) / 1000),
    p50Ms: lat.p50,
    p99Ms: lat.p99,
    maxMs: lat.max,
    errors: pollErrors,
    withEvents: closed.withEvents,
    announcements: announced.length,
    lost,
    duplicates: closed.duplicates,
    outOfOrder: closed.outOfOrder,
    serverCpuPerRequestUs: latencies.length ? ((m1.cpuSeconds - m0.cpuSeconds) * 1e6) / latencies.length : null,
  };
  s.say(
    `polling: ${polling.perSec.toFixed(0)} req/s, p50 ${polling.p50Ms?.toFixed(2)} p99 ${polling.p99Ms?.toFixed(2)} ms, ` +
      `${announced.length} announcements, lost ${lost}, errors ${JSON.stringify(pollErrors)}`,
  );
  return polling;
}

/** The users in turn, one poll per connection at a time, until `end`. */
async function pollUntil(s: PollSession, end: number, latencies: number[], errors: Record<string, number>, t: Tally): Promise<void> {
  const { pollers } = s;
  let nextUser = 0;
  await Promise.all(
    Array.from({ length: s.o.pollConcurrency }, async () => {
      while (nowMs() < end) {
        const p = pollers[nextUser++ % pollers.length];
        const t0 = nowMs();
        const r = await s.call('GET', `/api/events?after=${p.after}`, p.token);
        latencies.push(nowMs() - t0);
        const b = r.status === 200 ? parse(r.body) : undefined;
        if (!b) {
          bump(errors, `HTTP ${r.status}`);
          continue;
        }
        onPage(p, b, t);
      }
    }),
  );
}
