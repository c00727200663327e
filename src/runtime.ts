import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Config } from './config';
import type { Logger } from './logger';
import { openDatabase, type Database } from './storage/db';
import { createTokenService, tokenPolicyOf } from './auth/jwt';
import { createTicketStore } from './auth/stream-tickets';
import { ChannelRegistry } from './realtime/channel-registry';
import { startStreamSweep } from './realtime/stream-sweep';
import { ClientModeTracker } from './realtime/client-modes';
import { HeldPolls } from './realtime/held-polls';
import { PollWindow } from './realtime/poll-window';
import { OutboxRelay } from './events/outbox-relay';
import { EventPublisher } from './events/event-publisher';
import { eventRetention } from './events/retention';
import { startPruning } from './storage/pruning';
import { pruneIdempotencyKeys } from './http/idempotency';
import { Telemetry } from './metrics/telemetry';
import { StatusFigures } from './ops/status-figures';
import { createApp } from './app';
import { writeLimit } from './http/rate-limits';
import { withStreamEndpoint } from './realtime/stream-endpoint';
import { withPollEndpoint } from './realtime/poll-endpoint';
import { CommitListener } from './events/commit-listener';
import { Reconciler, reconcilerOptions, startMoneyJobs } from './payments/reconciliation';
import { createUserSync } from './users/user-sync';
import { createPaystackClient } from './payments/paystack-client';
import { PaymentService } from './payments/payment-service';
import { BookingService } from './bookings/booking-service';
import { BookingClock } from './bookings/booking-clock';
import { WebhookService } from './payments/webhook-service';
import { NotificationService } from './notifications/notification-service';
import { AttentionQueue, attentionRules, deriveAlertsAndNotifications } from './payments/attention';
import { EscrowAdmin } from './payments/escrow-admin';
import type { AppDeps } from './app-deps';
import { PACKAGE_VERSION } from './package-root';
import { startDemoPaystack, type DemoPaystack } from './demo/demo-paystack';
import { seedDemoUsers } from './demo/demo-seed';
import { guardDemoHost } from './demo/demo-host';
import { startChannels } from './channels/channel-wiring';
import { StreamPresence } from './realtime/stream-presence';
import type { DemoChannels } from './demo/demo-channels';

export interface RunningServer {
  url: string;
  port: number;
  deps: AppDeps;
  server: http.Server;
  listener: CommitListener | null;
  /** Demo mode's in-process fake Paystack, when it runs one. */
  demoPaystack: DemoPaystack | null;
  /** Demo mode's in-process fake email, SMS/WhatsApp and push services, and the outbox of what they received. */
  demoChannels: DemoChannels | null;
  /** Stop taking streams, end open ones, finish in-flight requests, close the database. */
  shutdown(): Promise<void>;
}

/** Wires the whole server on a database (given, or opened from config) and starts listening. */
export async function startServer(config: Config, logger: Logger, database?: Database): Promise<RunningServer> {
  const db = database ?? (await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR }));
  await db.migrate();

  const registry = new ChannelRegistry();
  const heldPolls = new HeldPolls();
  // Live here: a stream open or a long poll held (a phone in the foreground). Escalation by push
  // or text waits for neither; every instance's dispatcher reads it (src/realtime/stream-presence.ts).
  const isLive = (userId: string) => registry.hasUser(userId) || heldPolls.hasUser(userId);
  const presence = new StreamPresence(db.knex, config.INSTANCE_ID, isLive, logger);
  registry.onUserChange = (userId) => presence.changed(userId);
  heldPolls.onUserChange = (userId) => presence.changed(userId);
  await presence.start();
  const telemetry = new Telemetry(() => registry.counts());
  // Demo mode: from here on, config points at the in-process fakes of the channels it was not
  // given. Loaded only then, so a server outside demo mode never loads the fakes' libraries.
  const demoChannels = config.demoMode ? await (await import('./demo/demo-channels')).startDemoChannels(config, logger) : null;
  if (demoChannels) config = demoChannels.config;
  // It reads the log on its own timer, after commits: publishing pays nothing for it.
  const channels = startChannels({ config, knex: db.knex, isLive, telemetry, logger });
  // Holds each run before the held polls it wakes look: they answer from memory.
  const pollWindow = new PollWindow(db.knex, () => relay.dispatchedId);
  const relay = new OutboxRelay(
    db.knex,
    (events, after) => {
      const reached = registry.dispatch(events);
      events.forEach((e, i) => {
        telemetry.recordFanout(e.occurredAt, reached[i]);
        if (e.type === 'notification.created') channels.dispatcher.noteNotification(e.id);
      });
      pollWindow.append(after, events);
      heldPolls.dispatch(events);
    },
    logger,
    config.RELAY_POLL_MS,
    (through) => pollWindow.prunedThrough(through),
  );
  const notifications = new NotificationService(db.knex, config.MARKETPLACE_TIME_ZONE);
  const attention = new AttentionQueue(db.knex, attentionRules(config));
  const publisher = new EventPublisher(
    db.knex,
    (events) => {
      telemetry.eventsPublished.inc(events.length);
      relay.offer(events);
    },
    deriveAlertsAndNotifications(attention, notifications),
    config.INSTANCE_ID,
  );
  notifications.attach(publisher);
  await relay.start();
  // Other instances' commits wake our relay; on the embedded database there are no others.
  const listener = config.DATABASE_URL ? new CommitListener(config.DATABASE_URL, () => relay.poke(), logger, config.INSTANCE_ID) : null;
  await listener?.start();
  const statusFigures = new StatusFigures(db.knex, logger);
  await statusFigures.refresh();
  const tickets = createTicketStore(db.knex, config.TICKET_TTL_MS);
  const retention = startPruning({
    jobs: {
      events: eventRetention({
        knex: db.knex,
        retentionHours: config.EVENT_RETENTION_HOURS,
        prunedThrough: (through) => pollWindow.prunedThrough(through),
      }),
      tickets: () => tickets.pruneExpired(),
      idempotencyKeys: () => pruneIdempotencyKeys(db.knex),
    },
    intervalMs: config.PRUNE_INTERVAL_MS,
    logger,
  });

  // Demo mode without a configured Paystack: from here on, config points at the in-process fake.
  const demoPaystack = await startDemoPaystack(config, logger);
  if (demoPaystack) config = demoPaystack.config;
  const paystack = config.PAYSTACK_SECRET_KEY
    ? createPaystackClient({
        baseUrl: config.PAYSTACK_BASE_URL,
        secretKey: config.PAYSTACK_SECRET_KEY,
        timeoutMs: config.PAYSTACK_TIMEOUT_MS,
        logger,
      })
    : null;
  if (!paystack) logger.warn({ code: 'PAYSTACK_NOT_CONFIGURED' }, 'PAYSTACK_SECRET_KEY is not set; payment routes answer 502');
  const payments = new PaymentService(db.knex, publisher, paystack, logger);

  const reconciler = paystack
    ? new Reconciler(db.knex, publisher, paystack, payments, logger, reconcilerOptions(config), (kind) => telemetry.reconciled.inc({ kind }))
    : null;

  const deps: AppDeps = {
    dispatcher: channels.dispatcher,
    demoOutbox: demoChannels?.outbox,
    config,
    logger,
    db,
    tokens: createTokenService(config.JWT_SECRET, tokenPolicyOf(config)),
    syncUser: createUserSync(db.knex),
    writeLimit: writeLimit(config.WRITE_RATE_LIMIT_PER_MIN),
    tickets,
    registry,
    heldPolls,
    pollWindow,
    relay,
    publisher,
    telemetry,
    lifecycle: { draining: false, startedAt: new Date(), version: PACKAGE_VERSION },
    paystack,
    payments,
    notifications,
    reconciler,
    attention,
    escrowAdmin: new EscrowAdmin(publisher, payments, config.PLATFORM_FEE_BPS),
    clientModes: new ClientModeTracker(),
    statusFigures,
    bookings: new BookingService(db.knex, publisher, payments, {
      feeBps: config.PLATFORM_FEE_BPS,
      autoReleaseHours: config.AUTO_RELEASE_HOURS,
      startEarlyMinutes: config.START_EARLY_MINUTES,
      currencies: config.PAYMENT_CURRENCIES,
      maxPendingPerPair: config.MAX_PENDING_BOOKINGS_PER_PAIR,
      requestTtlHours: config.BOOKING_REQUEST_TTL_HOURS,
    }),
    bookingClock: new BookingClock(publisher),
    webhooks: new WebhookService(db.knex, publisher, paystack, config.PAYSTACK_SECRET_KEY, payments, logger, {
      retryMs: config.WEBHOOK_RETRY_MS,
      // A verify and a follow-up lookup, each within its timeout.
      minAttemptMs: 2 * config.PAYSTACK_TIMEOUT_MS,
    }),
  };
  const moneyJobs = startMoneyJobs(
    [
      ...(reconciler ? [{ name: 'reconcile', run: () => reconciler.runOnce() }] : []),
      { name: 'release-reminders', run: () => deps.bookings.remindBeforeRelease(config.AUTO_RELEASE_HOURS) },
      { name: 'auto-release', run: () => deps.bookings.autoRelease(config.AUTO_RELEASE_HOURS) },
      { name: 'attention', run: () => attention.sweep(publisher) },
    ],
    config.RECONCILE_INTERVAL_MS,
    logger,
  );
  // Its own interval: reminders and expiries are due to the minute, and wait for no reconciliation.
  const bookingClock = startMoneyJobs(
    [{ name: 'booking-clock', run: () => deps.bookingClock.runOnce() }],
    config.BOOKING_TIMERS_INTERVAL_MS,
    logger,
  );
  if (config.demoMode) await seedDemoUsers(db.knex, paystack, logger);
  await demoChannels?.seed(db.knex);
  const app = createApp(deps);
  const server = http.createServer(guardDemoHost(config.demoMode, app, withPollEndpoint(deps, withStreamEndpoint(deps, app))));
  const streamSweep = startStreamSweep(registry, config.HEARTBEAT_MS);
  // Connections whose client has not sent a request yet (browsers and undici open spare ones).
  const unused = new Set<Socket>();
  // One function for every socket, not a closure (and a `once` wrapper) held by each open stream.
  function forgetSocket(this: Socket) {
    unused.delete(this);
  }
  server.on('connection', (socket: Socket) => {
    unused.add(socket);
    socket.on('close', forgetSocket);
  });
  server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    unused.delete(req.socket);
    // While draining, every response tells its client not to reuse the connection.
    if (deps.lifecycle.draining) res.setHeader('Connection', 'close');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PORT, config.HOST ?? (config.demoMode ? '127.0.0.1' : undefined), () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  demoPaystack?.webhooksTo(`http://127.0.0.1:${port}/api/webhooks/paystack`);
  demoChannels?.callbacksTo(`http://127.0.0.1:${port}`);
  // Deliveries recorded before a crash or restart are settled now, then by the periodic sweep.
  deps.webhooks.start();

  let shuttingDown: Promise<void> | null = null;
  const shutdown = () =>
    (shuttingDown ??= (async () => {
      deps.lifecycle.draining = true;
      streamSweep.stop();
      retention.stop();
      moneyJobs.stop();
      bookingClock.stop();
      relay.stop();
      await channels.stop();
      await demoChannels?.stop();
      await listener?.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Streams end now so their clients reconnect to another instance; in-flight requests finish.
      for (const s of [...registry.all()]) s.drop('shutdown');
      // Held polls answer with what they have, so their clients poll again elsewhere.
      heldPolls.releaseAll();
      // closeIdleConnections() alone misses connections that never sent a request, and any that
      // goes idle later (a keep-alive connection finishing its last response, an ended stream):
      // each would hold server.close() until the force timeout. Sweep until closed.
      const closeIdle = () => {
        for (const socket of unused) if (socket.bytesRead === 0) socket.destroy();
        server.closeIdleConnections();
      };
      closeIdle();
      const sweep = setInterval(closeIdle, 100);
      const force = setTimeout(() => server.closeAllConnections(), Math.max(config.SHUTDOWN_TIMEOUT_MS - 1_500, 100));
      await closed;
      clearInterval(sweep);
      clearTimeout(force);
      await presence.stop().catch((err) => logger.warn({ code: 'PRESENCE_WRITE_FAILED', err }, 'stream presence not removed; it lapses with the heartbeat'));
      // Settling that cannot finish in time stays recorded, for the next start or another instance.
      await deps.webhooks.stop(Math.min(1_000, config.SHUTDOWN_TIMEOUT_MS / 4));
      // Its kept-alive connections to Paystack, once the last request using it has finished.
      await paystack?.close();
      await demoPaystack?.stop();
      await db.close();
    })());

  return { url: `http://127.0.0.1:${port}`, port, deps, server, listener, demoPaystack, demoChannels, shutdown };
}
