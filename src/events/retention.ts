import type { Knex } from 'knex';
import type { Logger } from '../logger';
import { pruneEvents } from './event-log';
import { pruneIdempotencyKeys } from '../http/idempotency';
import type { TicketStore } from '../auth/stream-tickets';

/** Periodically deletes events past the retention window, expired stream tickets and idempotency keys. */
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
