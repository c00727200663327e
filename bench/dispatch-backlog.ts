/**
 * The dispatch phase's backlog, on one "on" side: latency samples before, the push service down
 * while announcements to away users are published on a schedule, the service up again and the
 * backlog's drain watched at the fake, then latency samples after. Live streams' publish->receive
 * is sampled one event at a time throughout.
 */
import { nowMs } from './protocol';
import { getText } from './http';
import type { FakeCounts } from './channel-fakes';
import type { DispatchSession } from './dispatch-session';
import type { Backlog } from './dispatch';
import { sleep } from '../test/support/sleep';

/** What the outage left: the fake's counts when it began, and the announcements accepted meanwhile. */
interface Outage {
  sentBefore: number;
  refusedBefore: number;
  published: number;
  waitingAtUp: number;
}

export async function runBacklog(s: DispatchSession, scale: number, retryBaseMs: number): Promise<Backlog> {
  const { o } = s;
  const samples = Math.max(20, Math.round(o.latencySamples / 2));
  s.progress(`${s.tag} backlog: ${samples} latency samples before the outage`);
  await s.sequential('before', samples);
  const outage = await runOutage(s, scale);
  const drain = await runDrain(s, outage);
  await s.sequential('after', samples);
  const counts = await s.fakes.rpc.call<FakeCounts>('counts');
  const status = JSON.parse((await getText(`${s.server.url}/api/status`)).body);
  return {
    outageSeconds: o.outageSeconds,
    scale,
    retryBaseMs,
    published: outage.published,
    ratePerSec: o.outageRate,
    waitingAtUp: outage.waitingAtUp,
    drainMs: drain.at === null ? null : drain.at - drain.up,
    drained: drain.at !== null,
    sentInDrain: counts.push.received - outage.sentBefore,
    failed: status.deliveries.byChannel.push?.failed ?? 0,
    duplicatePushes: counts.push.duplicateNotifications,
    refusedByFake: counts.push.refused - outage.refusedBefore,
    latency: {
      before: await s.phaseLatency('before'),
      outage: await s.phaseLatency('outage'),
      drain: await s.phaseLatency('drain'),
      after: await s.phaseLatency('after'),
    },
  };
}

/** The push service down for `outageSeconds`, announcements to away users published meanwhile, latency sampled. */
async function runOutage(s: DispatchSession, scale: number): Promise<Outage> {
  const { o, fakes, pg } = s;
  const sentBefore = (await fakes.rpc.call<FakeCounts>('counts')).push.received;
  const refusedBefore = (await fakes.rpc.call<FakeCounts>('counts')).push.refused;
  await fakes.rpc.call('down');
  const total = Math.round(o.outageSeconds * o.outageRate);
  s.progress(`${s.tag} backlog: push service down for ${o.outageSeconds} s (stands for 600 s, k = ${scale.toFixed(1)}), ${total} announcements to away users`);
  const outageStart = nowMs();
  const publisher = publishOnSchedule(s, total, outageStart);
  await s.sequential('outage', Number.MAX_SAFE_INTEGER, () => nowMs() - outageStart >= o.outageSeconds * 1000);
  const published = await publisher;
  s.takeRtts();
  const waitingAtUp = pg
    ? Number((await pg.query("SELECT count(*) AS n FROM notification_deliveries WHERE status IN ('queued', 'sending') AND attempts > 0")).rows[0].n)
    : -1;
  return { sentBefore, refusedBefore, published, waitingAtUp };
}

/** Open loop: each announcement is due at its time whatever the server does; the number accepted. */
async function publishOnSchedule(s: DispatchSession, total: number, start: number): Promise<number> {
  let published = 0;
  let inFlight = 0;
  const waits: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / s.o.outageRate;
    const wait = due - nowMs();
    if (wait > 0) await sleep(wait);
    if (inFlight >= 16) await Promise.race(waits);
    inFlight++;
    const p = s.publish(s.awayUsers[i % s.awayUsers.length].id, JSON.stringify({ p: 'outage-away', s: i, t: nowMs(), u: -1 })).then((ok) => {
      inFlight--;
      if (ok) published++;
      void waits.splice(waits.indexOf(p), 1);
    });
    waits.push(p);
  }
  await Promise.all(waits);
  return published;
}

/** The push service up again; latency sampled until the fake has taken every push of the run, or the watch gives up. */
async function runDrain(s: DispatchSession, outage: Outage): Promise<{ up: number; at: number | null }> {
  const { o, fakes } = s;
  await fakes.rpc.call('up');
  const up = nowMs();
  const wanted = outage.sentBefore + outage.published;
  s.progress(`${s.tag} backlog: push service up; ${outage.published} pushes to drain, latency samples meanwhile`);
  const drain = { up, at: null as number | null, stop: false };
  const watcher = (async () => {
    const deadline = up + 20 * o.outageSeconds * 1000;
    try {
      while (nowMs() < deadline) {
        if ((await fakes.rpc.call<FakeCounts>('counts')).push.received >= wanted) {
          drain.at = nowMs();
          return;
        }
        await sleep(100);
      }
    } finally {
      // Given up or failed: the samples stop too, and the report says the drain was not seen.
      drain.stop = true;
    }
  })();
  await s.sequential('drain', Number.MAX_SAFE_INTEGER, () => drain.at !== null || drain.stop);
  await watcher;
  return { up, at: drain.at };
}
