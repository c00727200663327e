/**
 * The longpoll phase's CPU comparison, in the order its steps run: announcements to all with
 * nobody listening, the cycle users' long polls and the short pollers' cursors, the untimed
 * warm-up, the timed rounds, and the figures per cycle and per short poll.
 */
import { nowMs } from './protocol';
import { CpuBlocks } from './longpoll-cpu-blocks';
import type { LongPollSession } from './longpoll-session';
import type { LongPollResult } from './longpoll';

/** Many short rounds: a busy spell of the machine then falls on every block alike. */
const ROUNDS = 8;

export interface CpuStep {
  cpu: LongPollResult['cpu'];
  /** Short polls that were not answered 200, by status. */
  shortErrors: Record<string, number>;
}

export async function runCpu(s: LongPollSession): Promise<CpuStep> {
  const { o, say } = s;
  const b = new CpuBlocks(s);
  // An announcement to everyone while nobody listens: what the fan-out cycles below subtract.
  const fanouts = Math.max(4, Math.round(o.cycles / o.cycleUsers));
  say(`CPU: ${fanouts} announcements to all with nobody listening (after as many untimed)`);
  for (let k = 0; k < fanouts; k++) await s.publish(null, { p: 'nobody', s: k, t: nowMs() });
  await b.timed('fanoutPublishSeconds', async () => {
    for (let k = 0; k < fanouts; k++) await s.publish(null, { p: 'nobody', s: k, t: nowMs() });
  });
  say(`CPU: ${o.cycleUsers} users long-polling, ${o.cycleUsers} short-polling`);
  await s.lp.rpc.call('start', { url: s.server.url, tokens: s.users.cycleUsers.map((u) => u.token), wait: o.waitS, concurrency: 50 }, 300_000);
  await s.awaitHeld(o.cycleUsers, 30_000);
  await b.readCursors();
  await b.createAbsentUsers();
  await warmUp(s, b, fanouts);
  const per = Math.max(1, Math.round(o.cycles / ROUNDS));
  const fanPer = Math.max(1, Math.round(fanouts / ROUNDS));
  await runRounds(s, b, per, fanPer);
  return { cpu: cpuFigures(s, b, { fanouts, per, fanPer }), shortErrors: b.shortErrors };
}

/** Every block once, untimed; the short polls' pick-up counts start again after it. */
async function warmUp(s: LongPollSession, b: CpuBlocks, fanouts: number): Promise<void> {
  const warm = Math.min(s.o.cycles, 500);
  s.say(`CPU: warm-up (${warm} of each, untimed)`);
  await b.cycleBlock('cycwarm', warm);
  await b.publishOnlyBlock(warm);
  await b.shortPolls(warm);
  await b.shortWithEventBlock(warm);
  b.shortWithEvent = b.shortWithEventPolls = 0;
  await b.fanoutBlock('fanwarm', Math.min(fanouts, 5));
}

/** The timed blocks, `per` events (and `fanPer` announcements to all) each, in ROUNDS rounds. */
async function runRounds(s: LongPollSession, b: CpuBlocks, per: number, fanPer: number): Promise<void> {
  s.say(
    `CPU: ${ROUNDS} rounds of ${per} events to held polls, ${per} to nobody, ${per} short polls, ` +
      `${fanPer} announcements to all (${s.o.cycleUsers} held polls each)`,
  );
  for (let r = 0; r < ROUNDS; r++) {
    // The two blocks whose difference is the targeted cycle swap places every round: in a fixed
    // order, the GC debt and the dispatcher ticks one block leaves fall on the same other block each time.
    const publishOnly = () => b.timed('publishOnlySeconds', () => b.publishOnlyBlock(per));
    const cycles = () => b.timed('cycleSeconds', () => b.cycleBlock('cyc', per));
    if (r % 2 === 0) await publishOnly().then(cycles);
    else await cycles().then(publishOnly);
    await b.timed('shortSeconds', () => b.shortPolls(per));
    await b.timed('shortWithEventSeconds', () => b.shortWithEventBlock(per));
    await b.timed('fanoutSeconds', () => b.fanoutBlock('fan', fanPer));
  }
}

/** Per event, cycle and short poll (us): each block's CPU with what it shares with another subtracted. */
function cpuFigures(s: LongPollSession, b: CpuBlocks, n: { fanouts: number; per: number; fanPer: number }): LongPollResult['cpu'] {
  const { cpu } = b;
  const events = n.per * ROUNDS;
  const publishUs = (cpu.publishOnlySeconds * 1e6) / events;
  const cycleUs = ((cpu.cycleSeconds - cpu.publishOnlySeconds) * 1e6) / Math.max(1, b.cycleSent);
  const shortPollUs = (cpu.shortSeconds * 1e6) / events;
  const shortWithEventUs = ((cpu.shortWithEventSeconds - cpu.publishOnlySeconds) * 1e6) / Math.max(1, b.shortWithEvent);
  const fanoutPublishUs = (cpu.fanoutPublishSeconds * 1e6) / n.fanouts;
  const fanoutCycleUs = ((cpu.fanoutSeconds - (cpu.fanoutPublishSeconds * n.fanPer * ROUNDS) / n.fanouts) * 1e6) / Math.max(1, b.fanoutCycles);
  return {
    rounds: ROUNDS,
    users: s.o.cycleUsers,
    events,
    shortPolls: events,
    ...cpu,
    fanouts: n.fanPer * ROUNDS,
    fanoutCycles: b.fanoutCycles,
    publishUs,
    cycleUs,
    shortPollUs,
    shortWithEvent: b.shortWithEvent,
    shortWithEventPolls: b.shortWithEventPolls,
    shortWithEventUs,
    fanoutPublishUs,
    fanoutCycleUs,
    ratio: shortPollUs > 0 ? cycleUs / shortPollUs : null,
    fanoutRatio: shortPollUs > 0 ? fanoutCycleUs / shortPollUs : null,
  };
}
