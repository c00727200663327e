import type { Knex } from 'knex';
import type { Logger } from '../logger';
import { pruneEvents } from './event-log';
import type { TicketStore } from '../auth/stream-tickets';

/** Periodically deletes events past the retention window and expired stream tickets. */
export function startRetention(o: {
  knex: Knex;
  tickets: TicketStore;
  retentionHours: number;
  intervalMs: number;
  logger: Logger;
}): { stop(): void; runOnce(): Promise<void> } {
  const runOnce = async () => {
    try {
      const events = await pruneEvents(o.knex, new Date(Date.now() - o.retentionHours * 3_600_000));
      const tickets = await o.tickets.pruneExpired();
      if (events || tickets) o.logger.info({ events, tickets }, 'pruned expired events and tickets');
    } catch (err) {
      o.logger.error({ code: 'PRUNE_FAILED', err }, 'pruning failed; will retry next interval');
    }
  };
  const timer = setInterval(() => void runOnce(), o.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer), runOnce };
}
