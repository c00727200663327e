/** CPU time of PostgreSQL and of the whole machine over a `notify` step, from Linux /proc. */
import fs from 'node:fs';

const CLK_TCK = 100;

/** utime+stime jiffies of every process named `postgres` (Linux /proc; null elsewhere). */
function postgresJiffies(): number | null {
  try {
    let sum = 0;
    for (const pid of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let stat: string;
      try {
        stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        continue;
      }
      const close = stat.lastIndexOf(')');
      if (!stat.slice(stat.indexOf('(') + 1, close).startsWith('postgres')) continue;
      const f = stat.slice(close + 2).split(' ');
      sum += Number(f[11]) + Number(f[12]);
    }
    return sum;
  } catch {
    return null;
  }
}

/** [busy, total] jiffies of the whole machine. */
function machineJiffies(): [number, number] | null {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = f.reduce((a, v) => a + v, 0);
    const idle = f[3] + (f[4] ?? 0);
    return [total - idle, total];
  } catch {
    return null;
  }
}

/** Both counters at one moment: PostgreSQL's first, then the machine's. */
export interface JiffySample {
  postgres: number | null;
  machine: [number, number] | null;
}

export function sampleJiffies(): JiffySample {
  const postgres = postgresJiffies();
  const machine = machineJiffies();
  return { postgres, machine };
}

export interface CpuShares {
  /** Cores used by all `postgres` processes between the samples (includes anything else using them). */
  postgresCores: number | null;
  /** Share of the machine's CPU time that was busy between the samples. */
  machineBusy: number | null;
}

/** What PostgreSQL and the machine used between two samples, PostgreSQL's spread over `wallSec`. */
export function cpuShares(before: JiffySample, after: JiffySample, wallSec: number): CpuShares {
  const pg0 = before.postgres;
  const pg1 = after.postgres;
  const m0 = before.machine;
  const m1 = after.machine;
  return {
    postgresCores: pg0 !== null && pg1 !== null ? (pg1 - pg0) / CLK_TCK / wallSec : null,
    machineBusy: m0 && m1 && m1[1] > m0[1] ? (m1[0] - m0[0]) / (m1[1] - m0[1]) : null,
  };
}
