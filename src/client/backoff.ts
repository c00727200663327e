export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

/**
 * Delay before the next attempt after `failures` failures in a row. The first retry goes at once
 * (most drops are one-offs: a proxy timeout, a server restart); after that the delay doubles up to
 * maxMs, and "equal jitter" (half fixed, half random) keeps the tabs of a thousand browsers that
 * lost the same server from coming back in one wave.
 */
export function backoffDelay(failures: number, o: BackoffOptions, random: () => number = Math.random): number {
  if (failures <= 1) return 0;
  const cap = Math.min(o.maxMs, o.initialMs * 2 ** Math.min(failures - 2, 30));
  return Math.round(cap / 2 + (random() * cap) / 2);
}
