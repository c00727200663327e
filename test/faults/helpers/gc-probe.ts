/*
 * Test-only, never part of the server: the fault suite preloads this into a real server process
 * (`node --expose-gc --import tsx --import ./test/faults/helpers/gc-probe.ts src/server.ts`). On
 * SIGUSR2 it collects garbage and prints one JSON line: heap used after GC and the process's
 * active resources by type, which is what "memory and handles return to baseline" is measured on.
 */
let seq = 0;
process.on('SIGUSR2', () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('gc-probe needs node --expose-gc');
  // Twice: the first pass can leave objects whose finalizers free more.
  gc();
  gc();
  const resources: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) resources[r] = (resources[r] ?? 0) + 1;
  process.stdout.write(`${JSON.stringify({ faultProbe: ++seq, heapUsed: process.memoryUsage().heapUsed, resources })}\n`);
});
