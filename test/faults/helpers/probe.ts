import path from 'node:path';
import { type ServerProcess, type SpawnOptions } from '../../support/server-process';

/** Node flags that load gc-probe.ts into the server process. */
export const PROBE_SPAWN: SpawnOptions = { nodeArgs: ['--expose-gc'], imports: [path.join(__dirname, 'gc-probe.ts')] };

export interface ProbeReading {
  heapUsed: number;
  resources: Record<string, number>;
}

/** Asks the server process (started with PROBE_SPAWN) for heap-after-GC and active resources. */
export async function probe(srv: ServerProcess, timeoutMs = 10_000): Promise<ProbeReading> {
  const before = srv.logs.filter((l) => l.faultProbe).length;
  srv.child.kill('SIGUSR2');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = srv.logs.filter((l) => l.faultProbe);
    if (lines.length > before) return lines[lines.length - 1] as unknown as ProbeReading;
    if (Date.now() > deadline) throw new Error('the server process did not answer the probe');
    await new Promise((r) => setTimeout(r, 50));
  }
}
