import type { Logger } from '../logger';

/** One kind of expired row and how to delete it; answers how many rows went. */
export type PruneJob = () => Promise<number>;

/**
 * One timer for every kind of expired row (events past retention, used stream tickets, old
 * idempotency keys). Each job lives beside what it cleans; this only runs them in turn, and a job
 * that fails is logged and tried again at the next interval without holding up the others.
 */
export function startPruning(o: { jobs: Record<string, PruneJob>; intervalMs: number; logger: Logger }): { stop(): void; runOnce(): Promise<void> } {
  const runOnce = async () => {
    const pruned: Record<string, number> = {};
    for (const [name, job] of Object.entries(o.jobs)) {
      try {
        const n = await job();
        if (n) pruned[name] = n;
      } catch (err) {
        o.logger.error({ code: 'PRUNE_FAILED', job: name, err }, 'pruning failed; will retry next interval');
      }
    }
    if (Object.keys(pruned).length) o.logger.info(pruned, 'pruned expired rows');
  };
  const timer = setInterval(() => void runOnce(), o.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer), runOnce };
}
