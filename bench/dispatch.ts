/**
 * The `dispatch` phase of `npm run bench` (`--only dispatch`): what the delivery dispatcher
 * (src/channels/dispatcher.ts) costs the publishing path, whether it keeps up, and how a backlog
 * drains. Its own server (src/server.ts) on its own fresh database per side; the channels'
 * far ends (push service, Twilio, SMTP: the test suite's fakes) in a forked process of their own
 * (channel-fakes.ts); the streams in the load client (load-client.ts).
 *
 * Side by side, alternating which goes first: the same server with DISPATCH_ENABLED=0 ("off")
 * and =1 ("on"), every channel configured, ESCALATE_PUSH_AFTER_S=0 (every announcement's push is
 * due at once: the most the dispatcher can be asked to do per event). S users hold streams, A more
 * are away (no stream); all turned push notifications on. Then the bench's sustained targeted
 * publishing: M announcements to random users (a share to away users) from P publishers as fast
 * as they are accepted. Per side: POST round trip p50/p99, publish->receive p50/p99 at the streams;
 * with the dispatcher on: deliveries settled per second, event-to-send p50/p99 (the server's
 * telemetry), the cursor's lag when publishing ended and how long it took to catch up, and the
 * pushes the fake received (each once).
 *
 * Backlog (once, on the first "on" side): the push service answers 503 for `outageSeconds` while
 * announcements to away users are published at `outageRate`/s, then takes pushes again. It stands
 * for 10 minutes of an outage with time compressed by k = 600 / outageSeconds: the retry backoff
 * (DELIVERY_RETRY_BASE_MS = 30 s / k) shrinks by k, so the retries and the backlog's shape are
 * those of a 10-minute outage at outageRate / k notifications a second. Measured: the time from
 * "up" to the last push sent (x k for real time), every push sent once, none given up, and live
 * streams' publish->receive p50/p99 before the outage, during it, during the drain and after.
 *
 * This file holds the phase's shapes, the off/on rounds and the report; a side's steps are
 * dispatch-side.ts (with dispatch-session.ts, what they share), the backlog dispatch-backlog.ts.
 */
import webpush from 'web-push';
import { startLoadClient, type PrepareDatabase } from './procs';
import { fmt, median } from './report';
import type { FakeUrls } from './channel-fakes';
import { runSide, TWILIO_SID, TWILIO_TOKEN, type DispatchRig } from './dispatch-side';

export interface DispatchOptions {
  streams: number;
  /** Users with push turned on and no stream open. */
  away: number;
  events: number;
  /** Share of the sustained events addressed to away users (their push is sent). */
  awayShare: number;
  publishers: number;
  warmup: number;
  latencySamples: number;
  /** Off/on pairs, alternating which goes first; the table shows medians. */
  rounds: number;
  /** The backlog's outage (s; 0 skips the backlog) and the announcements per second meanwhile. */
  outageSeconds: number;
  outageRate: number;
  connectConcurrency: number;
  embedded: boolean;
  profile: boolean;
  seed: number;
}

export interface DispatchDeps {
  jwtSecret: string;
  progress: (msg: string) => void;
  prepareDatabase: PrepareDatabase;
}

export interface Latency {
  samples: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface DispatchSide {
  dispatcher: boolean;
  database: string;
  streamsOpen: number;
  sustained: {
    accepted: number;
    toAway: number;
    publishSeconds: number;
    publishPerSec: number;
    postRtt: Latency;
    receive: Latency;
    receivedAll: boolean;
    /** Server CPU from the first publish until every delivery settled (on) or the same pause (off). */
    cpuPerEventUs: number | null;
    /** PostgreSQL transactions committed in this database over that span, per event (PostgreSQL only). */
    commitsPerEvent: number | null;
  };
  /** Dispatcher on only. */
  deliveries: null | {
    settledAtPublishEnd: number;
    expected: number;
    /** Events behind the cursor the moment publishing ended (PostgreSQL only: read from outside). */
    cursorLagAtPublishEnd: number | null;
    cursorLagAtEnd: number | null;
    /** From the end of publishing until every delivery of the run was settled. */
    catchUpMs: number | null;
    settledPerSec: number | null;
    byOutcome: Record<string, number>;
    eventToSend: Latency;
    pushesReceived: number;
    duplicatePushes: number;
  };
  backlog: null | Backlog;
  warnings: { count: number; first: string[] };
}

export interface Backlog {
  outageSeconds: number;
  scale: number;
  retryBaseMs: number;
  published: number;
  ratePerSec: number;
  /** Deliveries queued for a retry when the push service came back. */
  waitingAtUp: number;
  drainMs: number | null;
  drained: boolean;
  sentInDrain: number;
  failed: number;
  duplicatePushes: number;
  refusedByFake: number;
  latency: { before: Latency; outage: Latency; drain: Latency; after: Latency };
}

interface SideSummary {
  postP50Ms: number | null;
  postP99Ms: number | null;
  receiveP50Ms: number | null;
  receiveP99Ms: number | null;
  publishPerSec: number | null;
  cpuPerEventUs: number | null;
  commitsPerEvent: number | null;
}

export interface DispatchResult {
  options: DispatchOptions;
  sides: DispatchSide[];
  summary: {
    off: SideSummary;
    on: SideSummary;
    postP50Ratio: number | null;
    receiveP50Ratio: number | null;
  };
}

export async function runDispatch(o: DispatchOptions, deps: DispatchDeps): Promise<DispatchResult> {
  const { progress } = deps;
  const fakes = await startLoadClient('channel-fakes.ts');
  try {
    const urls = await fakes.rpc.call<FakeUrls>('start', { twilioSid: TWILIO_SID, twilioToken: TWILIO_TOKEN });
    const rig: DispatchRig = { o, deps, fakes, urls, vapid: webpush.generateVAPIDKeys() };
    const sides: DispatchSide[] = [];
    let backlogDone = o.outageSeconds === 0;
    for (let round = 0; round < o.rounds; round++) {
      const order = round % 2 === 0 ? [false, true] : [true, false];
      for (const on of order) {
        const withBacklog = on && !backlogDone;
        progress(`[dispatch] round ${round + 1}/${o.rounds}: dispatcher ${on ? 'on' : 'off'}${withBacklog ? ', then the backlog' : ''}`);
        sides.push(await runSide(rig, on, withBacklog, round));
        if (withBacklog) backlogDone = true;
      }
    }
    return { options: o, sides, summary: summarizeSides(sides) };
  } finally {
    await fakes.stop();
  }
}

/** Per dispatcher setting, the medians of the sides' figures, and on's ratio to off. */
function summarizeSides(sides: DispatchSide[]): DispatchResult['summary'] {
  const pick = (on: boolean, f: (s: DispatchSide) => number | null) =>
    median(
      sides
        .filter((s) => s.dispatcher === on)
        .map(f)
        .filter((v): v is number => v !== null),
    );
  const side = (on: boolean) => ({
    postP50Ms: pick(on, (s) => s.sustained.postRtt.p50Ms),
    postP99Ms: pick(on, (s) => s.sustained.postRtt.p99Ms),
    receiveP50Ms: pick(on, (s) => s.sustained.receive.p50Ms),
    receiveP99Ms: pick(on, (s) => s.sustained.receive.p99Ms),
    publishPerSec: pick(on, (s) => s.sustained.publishPerSec),
    cpuPerEventUs: pick(on, (s) => s.sustained.cpuPerEventUs),
    commitsPerEvent: pick(on, (s) => s.sustained.commitsPerEvent),
  });
  const off = side(false);
  const onS = side(true);
  const r = (a: number | null, b: number | null) => (a !== null && b ? a / b : null);
  return { off, on: onS, postP50Ratio: r(onS.postP50Ms, off.postP50Ms), receiveP50Ratio: r(onS.receiveP50Ms, off.receiveP50Ms) };
}

// ---------------------------------------------------------------------------------------------

export function dispatchReport(r: DispatchResult): string[] {
  const out: string[] = [''];
  const o = r.options;
  out.push(
    `Dispatcher: ${o.streams} streams + ${o.away} users away (all with push on), ${o.events} announcements (${Math.round(o.awayShare * 100)}% to away users), ` +
      `${o.publishers} publishers, ESCALATE_PUSH_AFTER_S=0; own server and fresh database per side; medians of ${o.rounds} off/on pair(s)`,
  );
  out.push('');
  const s = r.summary;
  const rows: Array<[string, string, number | null, number | null, number]> = [
    ['sustained: publishes accepted', 'events/s', s.off.publishPerSec, s.on.publishPerSec, 0],
    ['POST /api/broadcasts p50', 'ms', s.off.postP50Ms, s.on.postP50Ms, 2],
    ['POST /api/broadcasts p99', 'ms', s.off.postP99Ms, s.on.postP99Ms, 2],
    ['publish->receive at the stream p50', 'ms', s.off.receiveP50Ms, s.on.receiveP50Ms, 2],
    ['publish->receive at the stream p99', 'ms', s.off.receiveP99Ms, s.on.receiveP99Ms, 2],
    ['server CPU per event (until all settled)', 'us', s.off.cpuPerEventUs, s.on.cpuPerEventUs, 0],
    ['PostgreSQL commits per event', 'commits', s.off.commitsPerEvent, s.on.commitsPerEvent, 2],
  ];
  const w = Math.max(...rows.map((x) => x[0].length));
  out.push(`${'metric'.padEnd(w)} | unit     |    off |     on | on/off`);
  out.push(`${'-'.repeat(w)}-|----------|--------|--------|-------`);
  for (const [name, unit, a, b, d] of rows) {
    out.push(`${name.padEnd(w)} | ${unit.padEnd(8)} | ${fmt(a, d).padStart(6)} | ${fmt(b, d).padStart(6)} | ${a && b !== null ? (b / a).toFixed(2) : 'n/a'}`);
  }
  out.push(
    `target: POST p50 on/off <= 1.10: ${s.postP50Ratio === null ? 'n/a' : `${s.postP50Ratio.toFixed(2)} ${s.postP50Ratio <= 1.1 ? 'met' : 'NOT MET'}`}; ` +
      `publish->receive p50 on/off ${s.receiveP50Ratio === null ? 'n/a' : s.receiveP50Ratio.toFixed(2)}`,
  );
  for (const side of r.sides) {
    const su = side.sustained;
    let line =
      `  ${side.dispatcher ? 'on ' : 'off'}: ${su.accepted} accepted (${su.toAway} to away users) in ${su.publishSeconds.toFixed(2)} s, ` +
      `POST p50/p99 ${fmt(su.postRtt.p50Ms, 2)}/${fmt(su.postRtt.p99Ms, 2)} ms, receive p50/p99 ${fmt(su.receive.p50Ms, 2)}/${fmt(su.receive.p99Ms, 2)} ms, ` +
      `server CPU ${fmt(su.cpuPerEventUs, 0)} us/event, ${fmt(su.commitsPerEvent, 2)} PostgreSQL commits/event${su.receivedAll ? '' : ', NOT ALL RECEIVED'}`;
    const d = side.deliveries;
    if (d) {
      line +=
        `\n       deliveries: ${d.settledAtPublishEnd}/${d.expected} settled when publishing ended, all ${d.catchUpMs === null ? 'NOT settled' : `settled ${fmt(d.catchUpMs, 0)} ms later`}` +
        ` (${fmt(d.settledPerSec, 0)}/s over the run); cursor lag ${d.cursorLagAtPublishEnd ?? 'n/a'} events at publish end, ${d.cursorLagAtEnd ?? 'n/a'} at the end; ` +
        `push ${JSON.stringify(d.byOutcome)}; event->send p50/p99 ${fmt(d.eventToSend.p50Ms, 1)}/${fmt(d.eventToSend.p99Ms, 1)} ms (${d.eventToSend.samples} sends); ` +
        `the fake took ${d.pushesReceived} pushes, ${d.duplicatePushes} twice`;
    }
    if (side.warnings.count) line += `\n       server logged ${side.warnings.count} warn/error lines, first: ${side.warnings.first[0]}`;
    out.push(line);
    const b = side.backlog;
    if (b) {
      const l = b.latency;
      const f = (x: Latency) => `${fmt(x.p50Ms, 2)}/${fmt(x.p99Ms, 2)} ms (${x.samples})`;
      out.push(
        `  backlog: push service down ${b.outageSeconds} s = 600 s / k, k = ${b.scale.toFixed(1)} (retry base ${b.retryBaseMs} ms = 30 s / k); ` +
          `${b.published} announcements to away users at ${b.ratePerSec}/s (= ${fmt(b.ratePerSec / b.scale, 1)}/s for 10 real minutes); ` +
          `${b.waitingAtUp >= 0 ? b.waitingAtUp : 'n/a'} waiting for a retry at "up"; the fake refused ${b.refusedByFake} attempts`,
      );
      out.push(
        `           drained ${b.drained ? `in ${fmt((b.drainMs ?? 0) / 1000, 1)} s (= ${fmt(((b.drainMs ?? 0) / 1000) * b.scale, 0)} s real)` : 'NOT within the time allowed'}; ` +
          `${b.sentInDrain} pushes sent since the outage began, ${b.duplicatePushes} twice, ${b.failed} given up`,
      );
      out.push(`           live streams publish->receive p50/p99: before ${f(l.before)}, outage ${f(l.outage)}, drain ${f(l.drain)}, after ${f(l.after)}`);
    }
  }
  out.push('');
  return out;
}
