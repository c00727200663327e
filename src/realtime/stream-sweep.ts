import type { ChannelRegistry } from './channel-registry';

/**
 * One timer for every open stream's heartbeat and token expiry, instead of two timers per stream.
 * A stream gets a heartbeat only after it has written nothing for about `heartbeatMs`, so a busy
 * stream sends none and the heartbeats of idle ones are spread over time by when they last wrote.
 * Expiry is checked on every sweep, at most a second apart.
 */
export function startStreamSweep(registry: ChannelRegistry, heartbeatMs: number): { stop(): void } {
  const everyMs = Math.min(Math.ceil(heartbeatMs / 4), 1_000);
  // A stream quiet for this many sweeps has been quiet for at least heartbeatMs - everyMs.
  const quietSweeps = Math.max(1, Math.floor(heartbeatMs / everyMs));
  const timer = setInterval(() => {
    const now = Date.now();
    for (const s of registry.all()) s.sweep(now, quietSweeps);
  }, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
