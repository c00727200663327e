import type { Knex } from 'knex';
import { logBounds, pruneEvents } from './event-log';

/** The prune job of the event log (storage/pruning.ts runs it): events older than the retention window. */
export function eventRetention(o: {
  knex: Knex;
  retentionHours: number;
  /**
   * Told the log's retention bound after events were pruned here, so that what serves cursors
   * from memory (the poll window) resets the pruned ones at once rather than at the relay's next read.
   */
  prunedThrough?: (through: string) => void;
}): () => Promise<number> {
  return async () => {
    const events = await pruneEvents(o.knex, new Date(Date.now() - o.retentionHours * 3_600_000));
    // Read after the prune committed: at or above what it pruned.
    if (events && o.prunedThrough) o.prunedThrough((await logBounds(o.knex)).prunedThrough);
    return events;
  };
}
