/**
 * The longpoll phase's latency step: one targeted event at a time, alternately to a random held
 * poll and a random open stream (the next only after the previous arrived), after an untimed
 * warm-up of the same.
 */
import { nowMs, type PhaseReport } from './protocol';
import { rng, summarize } from './report';
import type { LongPollSession } from './longpoll-session';
import type { LongPollOptions, LongPollResult } from './longpoll';

/** The seeded picks of held polls and open streams to send to. */
class Targets {
  private readonly pick: () => number;
  private readonly recent: number[] = [];

  constructor(
    private readonly o: LongPollOptions,
    /** Indices of the stream users whose stream opened. */
    readonly opened: number[],
  ) {
    this.pick = rng(o.seed);
  }

  /** A held poll's index in the long-poll client. */
  poll(): number {
    const { o, recent } = this;
    // Not one of the last few targeted: its next poll may not be held yet.
    for (;;) {
      const i = o.cycleUsers + Math.floor(this.pick() * o.polls);
      if (o.polls <= 16 || !recent.includes(i)) {
        recent.push(i);
        if (recent.length > 8) recent.shift();
        return i;
      }
    }
  }

  /** An open stream's user index. */
  stream(): number {
    return this.opened[Math.floor(this.pick() * this.opened.length)];
  }
}

export async function runLatency(s: LongPollSession, opened: number[]): Promise<void> {
  const { o, say } = s;
  const targets = new Targets(o, opened);
  if (o.latencyWarmup > 0) {
    say(`latency: warm-up, ${o.latencyWarmup} events to each, untimed`);
    await sequential(s, targets, 'lpwarm', 'stwarm', o.latencyWarmup);
  }
  say(`latency: ${o.latencySamples} events to held polls and ${o.latencySamples} to streams, alternately, one at a time`);
  await sequential(s, targets, 'lplat', 'stlat', o.latencySamples);
}

/** `count` events to held polls and as many to open streams, alternately, each after the previous arrived. */
async function sequential(s: LongPollSession, targets: Targets, pollPhase: string, streamPhase: string, count: number): Promise<void> {
  const { lpUsers, streamUsers } = s.users;
  let pollSent = 0;
  let streamSent = 0;
  const one = async (toPoll: boolean, seq: number) => {
    if (toPoll) {
      const i = targets.poll();
      if (!(await s.publish(lpUsers[i].id, { p: pollPhase, s: seq, t: nowMs(), u: i }))) return;
      s.expect(pollPhase, i);
      await s.awaitPhase(s.lp, pollPhase, ++pollSent, 5_000);
    } else if (targets.opened.length) {
      const i = targets.stream();
      if (!(await s.publish(streamUsers[i].id, { p: streamPhase, s: seq, t: nowMs(), u: i }))) return;
      s.expect(streamPhase, i);
      await s.awaitPhase(s.sc, streamPhase, ++streamSent, 5_000);
    }
  };
  for (let seq = 0; seq < count; seq++) {
    // Which goes first alternates, so neither always follows the other.
    await one(seq % 2 === 0, seq);
    await one(seq % 2 !== 0, seq);
  }
}

export function latencyFigures(o: LongPollOptions, reports: Map<string, PhaseReport>): LongPollResult['latency'] {
  const lat = (phase: string): LongPollResult['latency']['poll'] => {
    const x = summarize(reports.get(phase)?.latencies ?? []);
    return { samples: x.n, p50Ms: x.p50, p99Ms: x.p99, maxMs: x.max };
  };
  return {
    poll: lat('lplat'),
    stream: lat('stlat'),
    warmupPollP50Ms: o.latencyWarmup > 0 ? lat('lpwarm').p50Ms : null,
    warmupStreamP50Ms: o.latencyWarmup > 0 ? lat('stwarm').p50Ms : null,
  };
}
