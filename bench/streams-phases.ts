/** The measured phases of one side of the streams comparison, in the order they run. */
import { nowMs, type ClientStatus, type PhaseReport } from './protocol';
import { readMetrics, type MetricsSample } from './http';
import { sleep } from '../test/support/sleep';
import { progress } from './progress';
import type { StreamsSession } from './streams-session';

export interface FanRound {
  recipients: number;
  expected: number;
  lastMs: number | null;
  reached: boolean;
}

/** One event to one random user at a time, the next only after it arrived; returns the timeouts. */
async function sequential(s: StreamsSession, phase: 'warm' | 'lat', count: number): Promise<number> {
  let sent = 0;
  let timeouts = 0;
  for (let n = 0; n < count; n++) {
    const idx = s.randomOpened();
    const ok = await s.publish({ title: 'bench', body: s.stampBody({ p: phase, s: n, t: nowMs(), u: idx }), userIds: [s.users[idx].id] });
    if (!ok) continue;
    s.expect(phase)[idx]++;
    sent++;
    const w = await s.awaitPhase(phase, sent, 5_000);
    if (!w.reached && ++timeouts >= 3) {
      progress(`[${s.name}] ${phase === 'lat' ? 'latency' : 'warm-up'}: 3 events never arrived; phase cut short`);
      break;
    }
  }
  return timeouts;
}

/**
 * Latency, after an untimed warm-up ('warm') as a server that has been running gets: right after
 * the connect phase the publish path is still cold (V8 has not optimized it; each pooled
 * connection prepares its statements on first use). Every server gets the same warm-up.
 */
export async function runLatency(s: StreamsSession): Promise<{ timeouts: number; rtts: number[] }> {
  if (s.opts.latencyWarmup > 0) {
    progress(`[${s.name}] warm-up: ${s.opts.latencyWarmup} sequential events, untimed`);
    await sequential(s, 'warm', s.opts.latencyWarmup);
    s.takeRtts();
  }
  progress(`[${s.name}] latency: ${s.opts.latencySamples} sequential events`);
  const timeouts = await sequential(s, 'lat', s.opts.latencySamples);
  return { timeouts, rtts: s.takeRtts() };
}

/** One announcement to everyone, one round at a time. */
export async function runFanout(s: StreamsSession): Promise<{ rounds: FanRound[]; m0: MetricsSample; m1: MetricsSample }> {
  progress(`[${s.name}] fan-out: ${s.opts.fanouts} announcements to all ${s.opened.length}`);
  const m0 = await readMetrics(s.server.url);
  const rounds: FanRound[] = [];
  for (let r = 0; r < s.opts.fanouts; r++) {
    const phase = `fan${r}`;
    const t = nowMs();
    const ok = await s.publish({ title: 'bench', body: s.stampBody({ p: phase, s: 0, t }), all: true });
    if (!ok) {
      rounds.push({ recipients: 0, expected: 0, lastMs: null, reached: false });
      continue;
    }
    const e = s.expect(phase);
    for (const i of s.opened) e[i]++;
    const w = await s.awaitPhase(phase, s.opened.length, 30_000);
    const rep = await s.client.rpc.call<PhaseReport>('report', { phase });
    rounds.push({ recipients: w.unique, expected: s.opened.length, lastMs: rep.lastRecv === null ? null : rep.lastRecv - t, reached: w.reached });
    await sleep(100);
  }
  return { rounds, m0, m1: await readMetrics(s.server.url) };
}

export interface Sustained {
  accepted: number;
  /** When publishing started, and when the last publish was answered (nowMs). */
  tStart: number;
  tPublished: number;
  reached: boolean;
  m0: MetricsSample;
  m1: MetricsSample;
  /** Round trips of the publishes since the latency phase. */
  rtts: number[];
}

/** M user-addressed events from P concurrent publishers, as fast as they are accepted. */
export async function runSustained(s: StreamsSession): Promise<Sustained> {
  const { opts } = s;
  progress(`[${s.name}] sustained: ${opts.events} events to random users, ${opts.publishers} publishers`);
  const targets = Array.from({ length: opts.events }, () => s.randomOpened());
  const m0 = await readMetrics(s.server.url);
  let next = 0;
  let accepted = 0;
  const tStart = nowMs();
  await Promise.all(
    Array.from({ length: opts.publishers }, async () => {
      while (next < targets.length) {
        const n = next++;
        const idx = targets[n];
        const ok = await s.publish({ title: 'bench', body: s.stampBody({ p: 'sus', s: n, t: nowMs(), u: idx }), userIds: [s.users[idx].id] });
        if (ok) {
          s.expect('sus')[idx]++;
          accepted++;
        }
      }
    }),
  );
  const tPublished = nowMs();
  const wait = await s.awaitPhase('sus', accepted, 30_000);
  const m1 = await readMetrics(s.server.url);
  return { accepted, tStart, tPublished, reached: wait.reached, m0, m1, rtts: s.takeRtts() };
}

export interface Tally {
  reports: Map<string, PhaseReport>;
  expected: number;
  received: number;
  lost: number;
  unexpected: number;
  duplicates: number;
  misdelivered: number;
  status: ClientStatus;
}

/** Every phase's receipts per stream against what each stream was expected to get. */
export async function tally(s: StreamsSession, fanRounds: number): Promise<Tally> {
  const phaseNames = [...(s.opts.latencyWarmup > 0 ? ['warm'] : []), 'lat', ...Array.from({ length: fanRounds }, (_, r) => `fan${r}`), 'sus'];
  const reports = new Map<string, PhaseReport>();
  for (const p of phaseNames) reports.set(p, await s.client.rpc.call<PhaseReport>('report', { phase: p }));
  const t = { reports, expected: 0, received: 0, lost: 0, unexpected: 0, duplicates: 0, misdelivered: 0 };
  for (const p of phaseNames) {
    const rep = reports.get(p)!;
    const exp = s.expected.get(p) ?? new Int32Array(s.users.length);
    for (let i = 0; i < s.users.length; i++) {
      const got = rep.perStream[i] ?? 0;
      t.expected += exp[i];
      t.received += got;
      if (got < exp[i]) t.lost += exp[i] - got;
      else t.unexpected += got - exp[i];
    }
    t.duplicates += rep.duplicates;
    t.misdelivered += rep.misdelivered;
  }
  return { ...t, status: await s.client.rpc.call<ClientStatus>('status') };
}
