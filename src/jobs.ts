import type { Services } from './services';
import { eventRetention } from './events/retention';
import { startPruning } from './storage/pruning';
import { pruneIdempotencyKeys } from './http/idempotency';
import { startMoneyJobs } from './payments/reconciliation';
import { startStreamSweep } from './realtime/stream-sweep';

/** What runs in the background of a server once started, and how it stops. */
export interface Jobs {
  /** Stops the timers and the log's readers; what is in flight finishes on its own. */
  stop(): Promise<void>;
}

/**
 * Starts the server's background work: presence, the relay and the commit listener, the status
 * figures, cleanup, the money jobs, the bookings' clock, the stream sweep and the dispatcher.
 * The order is the order each needs the one before.
 */
export async function startJobs(s: Services): Promise<Jobs> {
  const { config, logger, db, reconciler } = s;
  await s.presence.start();
  await s.relay.start();
  await s.listener?.start();
  await s.statusFigures.refresh();
  const pruning = startPruning({
    jobs: {
      events: eventRetention({
        knex: db.knex,
        retentionHours: config.EVENT_RETENTION_HOURS,
        prunedThrough: (through) => s.pollWindow.prunedThrough(through),
      }),
      tickets: () => s.tickets.pruneExpired(),
      idempotencyKeys: () => pruneIdempotencyKeys(db.knex),
    },
    intervalMs: config.PRUNE_INTERVAL_MS,
    logger,
  });
  const moneyJobs = startMoneyJobs(
    [
      ...(reconciler ? [{ name: 'reconcile', run: () => reconciler.runOnce() }] : []),
      { name: 'release-reminders', run: () => s.bookings.remindBeforeRelease(config.AUTO_RELEASE_HOURS) },
      { name: 'auto-release', run: () => s.bookings.autoRelease(config.AUTO_RELEASE_HOURS) },
      { name: 'attention', run: () => s.attention.sweep(s.publisher) },
    ],
    config.RECONCILE_INTERVAL_MS,
    logger,
  );
  // Its own interval: reminders and expiries are due to the minute, and wait for no reconciliation.
  const bookingClock = startMoneyJobs([{ name: 'booking-clock', run: () => s.bookingClock.runOnce() }], config.BOOKING_TIMERS_INTERVAL_MS, logger);
  const streamSweep = startStreamSweep(s.registry, config.HEARTBEAT_MS);
  if (config.DISPATCH_ENABLED) s.dispatcher.start();
  else logger.info({ code: 'DISPATCH_DISABLED' }, 'DISPATCH_ENABLED=0: this instance sends nothing beyond the tab');
  return {
    async stop() {
      streamSweep.stop();
      pruning.stop();
      moneyJobs.stop();
      bookingClock.stop();
      s.relay.stop();
      await s.channels.stop();
      await s.listener?.stop();
    },
  };
}
