import type { Knex } from 'knex';
import type { Logger } from '../logger';
import { logBounds, pruneEvents } from './event-log';
import { pruneIdempotencyKeys } from '../http/idempotency';
import type { TicketStore } from '../auth/stream-tickets';

/** Periodically deletes events past the retention window, expired stream tickets and idempotency keys. */
export function startRetention(o: {
  knex: Knex;
  tickets: TicketStore;
  retentionHours: number;
  intervalMs: number;
  logger: Logger;
  /**
   * Told the log's retention bound after events were pruned here, so that what serves cursors
   * from memory (the poll window) resets the pruned ones at once rather than at the relay's next read.
   */
  prunedThrough?: (through: string) => void;
}): { stop(): void; runOnce(): Promise<void> } {
  const runOnce = async () => {
    try {
      const events = await pruneEvents(o.knex, new Date(Date.now() - o.retentionHours * 3_600_000));
      // Read after the prune committed: at or above what it pruned.
      if (events && o.prunedThrough) o.prunedThrough((await logBounds(o.knex)).prunedThrough);
      const tickets = await o.tickets.pruneExpired();
      const idempotencyKeys = await pruneIdempotencyKeys(o.knex);
      if (events || tickets || idempotencyKeys) o.logger.info({ events, tickets, idempotencyKeys }, 'pruned expired rows');
    } catch (err) {
      o.logger.error({ code: 'PRUNE_FAILED', err }, 'pruning failed; will retry next interval');
    }
  };
  const timer = setInterval(() => void runOnce(), o.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer), runOnce };
}
