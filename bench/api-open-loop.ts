/**
 * The open-loop polling step: the same users, cursors and announcements as the closed loop, but
 * requests scheduled at R per second whatever the server does, each timed from its scheduled send
 * time, over up to OPEN_LOOP_SOCKETS kept-alive sockets.
 */
import http from 'node:http';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { assertNotAborting } from './procs';
import { readMetrics, requestJson, type MetricsSample } from './http';
import { summarize } from './report';
import type { ApiOptions, OpenLoopFigures } from './api-load';
import { parse } from './api-calls';
import { startAnnouncer } from './api-announcer';
import { catchUpAndCountLost, newTally, onPage, type Poller, type PollSession, type Tally } from './api-pollers';
import { OpenLoopSchedule, type Poll } from './api-open-loop-schedule';

/**
 * Sockets for the open-loop step. At 2,000/s and a few ms per answer only a handful are busy at
 * once; 64 leaves room for a stall without making requests queue for a connection, and stays
 * small enough not to be a connection-count benchmark.
 */
const OPEN_LOOP_SOCKETS = 64;
const secondsToMs = (s: number | undefined): number | null => (s === undefined ? null : s * 1000);

export async function measureOpenLoop(s: PollSession): Promise<OpenLoopFigures> {
  const { o, target, pollers } = s;
  s.say(`polling at ${o.pollRate}/s offered (open loop, up to ${OPEN_LOOP_SOCKETS} sockets), ${o.pollRateSeconds} s, an announcement to all every 100 ms`);
  // FIFO hands out the least recently used free socket, so all of them stay in use and none
  // sits idle long enough for the server's keep-alive timeout to close it mid-step.
  const openPool = new http.Agent({ keepAlive: true, maxSockets: OPEN_LOOP_SOCKETS, scheduling: 'fifo' });
  try {
    const errors: Record<string, number> = {};
    const open = newTally();
    const poll: Poll = (p) => requestJson('GET', `${target.url}/api/events?after=${p.after}`, p.token, undefined, openPool);
    await openSockets(pollers, poll);
    for (const p of pollers) {
      p.startedAfter = p.after;
      p.got = [];
    }
    const openAnnouncer = startAnnouncer(s.call, s.admin);
    const schedule = new OpenLoopSchedule(o, pollers, poll, open, errors);
    const loop = monitorEventLoopDelay({ resolution: 1 });
    const mo0 = await readMetrics(target.url);
    loop.enable();
    const cpu0 = process.cpuUsage();
    await schedule.run();
    loop.disable();
    const cpu = process.cpuUsage(cpu0);
    const mo1 = await readMetrics(target.url);
    await openAnnouncer.stop();
    assertNotAborting();
    const why = target.exitReport();
    if (why) throw new Error(why);
    const lost = await catchUpAndCountLost(s, openAnnouncer.announced, open, errors);
    const x = openLoopFigures(o, schedule, { errors, tally: open, announcements: openAnnouncer.announced.length, lost, mo0, mo1, cpu, loop });
    s.say(
      `polling at ${x.offeredPerSec}/s offered: ${x.perSec.toFixed(0)} answered/s, from scheduled time p50 ${x.p50Ms?.toFixed(2)} ` +
        `p99 ${x.p99Ms?.toFixed(2)} max ${x.maxMs?.toFixed(1)} ms, ${x.announcements} announcements, lost ${x.lost}, errors ${JSON.stringify(errors)}`,
    );
    return x;
  } finally {
    openPool.destroy();
  }
}

/**
 * Opens every socket before the clock starts, so the step does not time TCP connects. The
 * announcer is stopped and everyone has caught up, so these pages are empty.
 */
async function openSockets(pollers: Poller[], poll: Poll): Promise<void> {
  await Promise.all(
    Array.from({ length: Math.min(OPEN_LOOP_SOCKETS, pollers.length) }, async (_, i) => {
      const r = await poll(pollers[i]).catch((e: Error) => ({ status: 0, body: e.message }));
      const b = r.status === 200 ? parse(r.body) : undefined;
      if (b) onPage(pollers[i], b, newTally());
    }),
  );
}

/** What the step read around the schedule's run, and what the catch-up found. */
interface OpenLoopReadings {
  errors: Record<string, number>;
  tally: Tally;
  announcements: number;
  lost: number;
  mo0: MetricsSample;
  mo1: MetricsSample;
  cpu: NodeJS.CpuUsage;
  loop: IntervalHistogram;
}

function openLoopFigures(o: ApiOptions, run: OpenLoopSchedule, r: OpenLoopReadings): OpenLoopFigures {
  const { fromScheduled } = run;
  const { mo0, mo1 } = r;
  const l = summarize(fromScheduled);
  const sv = summarize(run.service);
  const seconds = (run.tLast - run.tStart) / 1000;
  return {
    offeredPerSec: o.pollRate,
    seconds,
    sockets: OPEN_LOOP_SOCKETS,
    scheduled: run.scheduled,
    requests: fromScheduled.length,
    perSec: fromScheduled.length / seconds,
    p50Ms: l.p50,
    p99Ms: l.p99,
    maxMs: l.max,
    errors: r.errors,
    withEvents: r.tally.withEvents,
    announcements: r.announcements,
    lost: r.lost,
    duplicates: r.tally.duplicates,
    outOfOrder: r.tally.outOfOrder,
    serverCpuPerRequestUs: fromScheduled.length ? ((mo1.cpuSeconds - mo0.cpuSeconds) * 1e6) / fromScheduled.length : null,
    breakdown: {
      lateP99Ms: summarize(run.late).p99,
      socketWaitP99Ms: summarize(run.socketWait).p99,
      serviceP50Ms: sv.p50,
      serviceP99Ms: sv.p99,
      driverLoopDelayP99Ms: r.loop.count ? r.loop.percentile(99) / 1e6 : null,
      // prom-client resets its event-loop histogram at every scrape, so mo1 covers this step only.
      serverLoopDelayP99Ms: secondsToMs(mo1.all.nodejs_eventloop_lag_p99_seconds),
      serverLoopDelayMaxMs: secondsToMs(mo1.all.nodejs_eventloop_lag_max_seconds),
      driverCpuPerRequestUs: fromScheduled.length ? (r.cpu.user + r.cpu.system) / fromScheduled.length : null,
      maxInFlight: run.maxInFlight,
    },
  };
}
