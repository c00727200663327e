/**
 * The longpoll phase's memory step: S streams, then N long polls of N more users on top, the
 * server's heap and RSS read after a forced GC before, between and after; and what it comes to
 * per open stream and per held poll.
 */
import fs from 'node:fs';
import path from 'node:path';
import { nowMs, type ConnectResult } from './protocol';
import { ROOT } from './procs';
import type { MetricsSample } from './http';
import type { LongPollSession } from './longpoll-session';
import type { LongPollOptions, LongPollResult } from './longpoll';
import { sleep } from '../test/support/sleep';

export interface MemoryStep {
  /** Polls held before the N were started (the cycle users'), and after. */
  heldBefore: number;
  heldAfter: number;
  conn: ConnectResult;
  started: { started: number; durationMs: number };
  /** From starting the N pollers to the server holding them all (or giving up). */
  startMs: number;
  mStart: MetricsSample;
  mStreams: MetricsSample;
  mPolls: MetricsSample;
}

/** A heap snapshot of the server to bench/results/heap/, when the run asks for them. */
async function snapshot(s: LongPollSession, name: string): Promise<void> {
  if (!s.o.heapSnapshots) return;
  const dir = path.join(ROOT, 'bench', 'results', 'heap');
  fs.mkdirSync(dir, { recursive: true });
  s.say(`heap snapshot -> ${path.relative(ROOT, dir)}/longpoll-${name}.heapsnapshot`);
  await s.server.rpc.call('heapsnapshot', { file: path.join(dir, `longpoll-${name}.heapsnapshot`) }, 300_000);
}

export async function runMemory(s: LongPollSession): Promise<MemoryStep> {
  const { o, say, server } = s;
  const heldBefore = await s.held();
  const mStart = await s.gcAndRead();
  await snapshot(s, 'start');
  say(`memory: opening ${o.streams} streams (${o.connectConcurrency} at a time)`);
  const conn = await s.sc.rpc.call<ConnectResult>(
    'connect',
    {
      transport: 'sse',
      url: `${server.url}/api/events/stream`,
      tokens: s.users.streamUsers.map((u) => u.token),
      concurrency: o.connectConcurrency,
      timeoutMs: 30_000,
    },
    600_000,
  );
  await sleep(500);
  const mStreams = await s.gcAndRead();
  await snapshot(s, 'streams');
  say(`memory: ${conn.opened}/${conn.requested} streams open in ${conn.durationMs.toFixed(0)} ms; starting ${o.polls} long polls`);
  const tp = nowMs();
  const started = await s.lp.rpc.call<{ started: number; durationMs: number }>(
    'start',
    { url: server.url, tokens: s.users.pollUsers.map((u) => u.token), wait: o.waitS, concurrency: o.connectConcurrency },
    600_000,
  );
  const heldNow = await s.awaitHeld(heldBefore + o.polls, 60_000);
  const startMs = nowMs() - tp;
  await sleep(500);
  const heldAfter = await s.held();
  const mPolls = await s.gcAndRead();
  await snapshot(s, 'polls');
  say(`memory: ${started.started} pollers started, ${heldNow - heldBefore} held after ${startMs.toFixed(0)} ms (${heldAfter} held in all)`);
  return { heldBefore, heldAfter, conn, started, startMs, mStart, mStreams, mPolls };
}

const pick2 = (m: MetricsSample) => ({ rssBytes: m.rssBytes, heapUsedBytes: m.heapUsedBytes });

/** The deltas from `a` to `b` per item (KB). */
const per1 = (a: MetricsSample, b: MetricsSample, n: number) => ({
  rss: (b.rssBytes - a.rssBytes) / 1024 / Math.max(1, n),
  heap: (b.heapUsedBytes - a.heapUsedBytes) / 1024 / Math.max(1, n),
});

export function memoryFigures(o: LongPollOptions, m: MemoryStep): Pick<LongPollResult, 'polls' | 'streams' | 'memory'> {
  const { conn, started } = m;
  return {
    polls: {
      requested: o.polls,
      started: started.started,
      startMs: m.startMs,
      heldBefore: m.heldBefore,
      heldAfter: m.heldAfter,
      perSec: started.durationMs > 0 ? started.started / (started.durationMs / 1000) : 0,
    },
    streams: {
      requested: conn.requested,
      opened: conn.opened,
      failed: conn.failed,
      failures: conn.failures,
      connectMs: conn.durationMs,
      perSec: conn.durationMs > 0 ? conn.opened / (conn.durationMs / 1000) : 0,
    },
    memory: {
      start: pick2(m.mStart),
      afterStreams: pick2(m.mStreams),
      afterPolls: pick2(m.mPolls),
      perStreamKB: per1(m.mStart, m.mStreams, conn.opened),
      perPollKB: per1(m.mStreams, m.mPolls, m.heldAfter - m.heldBefore),
    },
  };
}
