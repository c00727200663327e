/**
 * The api phase's baseline: bench/baseline-server.ts started while ours idles, both polling steps
 * against it with the same code and parameters, then stopped.
 */
import path from 'node:path';
import { startServerProcess, ROOT, type ServerProc } from './procs';
import type { ApiContext, ApiDeps, ApiOptions, ApiResult } from './api-load';
import { measurePolling } from './api-polling';
import { freePort } from '../test/support/free-port';

export async function measureBaseline(
  o: ApiOptions,
  deps: ApiDeps,
  c: ApiContext,
  onServer: (s: ServerProc) => void,
): Promise<NonNullable<ApiResult['baseline']>> {
  const basePort = await freePort();
  c.say(`starting the baseline server (bench/baseline-server.ts) on :${basePort}; ours idles meanwhile`);
  const tb = Date.now();
  const base = await startServerProcess({
    name: 'baseline server (api)',
    entry: 'bench/baseline-server.ts',
    env: { PORT: String(basePort), JWT_SECRET: deps.jwtSecret, LOG_LEVEL: 'warn' },
    port: basePort,
    readyPath: '/healthz',
    nodeArgs: o.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(ROOT, 'bench', 'results', 'profiles', 'api-baseline')}`] : [],
  });
  onServer(base);
  const baseStartupMs = Date.now() - tb;
  try {
    const steps = await measurePolling(o, { ...c, target: base, say: (msg) => c.say(`baseline ${msg}`) });
    return {
      startupMs: baseStartupMs,
      ...steps,
      server: { startupWarnings: base.startupWarnings, warningCount: base.warningCount, warnings: base.warnings },
    };
  } finally {
    await base.stop();
  }
}
