import type { RequestHandler } from 'express';
import type { Config } from './config';
import type { Logger } from './logger';
import type { Database } from './storage/db';
import { createTokenService, tokenPolicyOf, type TokenService } from './auth/jwt';
import { createTicketStore, type TicketStore } from './auth/stream-tickets';
import type { Principal } from './auth/principal';
import { ChannelRegistry } from './realtime/channel-registry';
import { ClientModeTracker } from './realtime/client-modes';
import { HeldPolls } from './realtime/held-polls';
import { PollWindow } from './realtime/poll-window';
import { Poller } from './realtime/poll';
import { StreamOpener } from './realtime/stream-open';
import { StreamPresence } from './realtime/stream-presence';
import { OutboxRelay, type DeliverRun } from './events/outbox-relay';
import { EventPublisher, type OnCommitted } from './events/event-publisher';
import { CommitListener } from './events/commit-listener';
import { Telemetry } from './metrics/telemetry';
import { StatusFigures } from './ops/status-figures';
import { errorAnswer, type ErrorAnswer } from './http/error-handler';
import { guessLimit, writeLimit } from './http/rate-limits';
import { trustProxy, type TrustProxy } from './http/client-address';
import type { Lifecycle } from './http/lifecycle';
import { createUserSync } from './users/user-sync';
import { createPaystackClient, type PaystackClient } from './payments/paystack-client';
import { PaymentService } from './payments/payment-service';
import { Reconciler, reconcilerOptions } from './payments/reconciliation';
import { WebhookService } from './payments/webhook-service';
import { AttentionQueue, attentionRules, deriveAlertsAndNotifications } from './payments/attention';
import { EscrowAdmin } from './payments/escrow-admin';
import { BookingService } from './bookings/booking-service';
import { BookingClock } from './bookings/booking-clock';
import { buildChannels, type Channels } from './channels/channel-wiring';
import type { Dispatcher } from './channels/dispatcher';
import { notificationsOf } from './notifications/notification-derivation';
import { Inbox } from './notifications/inbox';
import type { DemoOutbox } from './demo/demo-outbox';
import { PACKAGE_VERSION } from './package-root';

/**
 * What the wiring builds for one server, on one database: every service, once. Each router,
 * endpoint and job declares the part of it that it uses (its own `...Deps` interface), and is
 * given this whole object, which has every part; tests reach the same objects through it.
 */
export interface Services {
  config: Config;
  logger: Logger;
  db: Database;
  tokens: TokenService;
  syncUser: (caller: Principal) => Promise<void>;
  /** Per-user writes (POST/PUT/DELETE) per minute; null when WRITE_RATE_LIMIT_PER_MIN=0. */
  writeLimit: RequestHandler | null;
  tickets: TicketStore;
  registry: ChannelRegistry;
  heldPolls: HeldPolls;
  /** Which users are live on this instance, written for every instance's dispatcher. */
  presence: StreamPresence;
  /** The recent log in memory, fed by the relay's runs, shared by every poll (realtime/poll-window.ts). */
  pollWindow: PollWindow;
  relay: OutboxRelay;
  /** Other instances' commits wake our relay; null on the embedded database, which has no others. */
  listener: CommitListener | null;
  publisher: EventPublisher;
  telemetry: Telemetry;
  /** Null when PAYSTACK_SECRET_KEY is not set: payment routes answer 502. */
  paystack: PaystackClient | null;
  bookings: BookingService;
  /** Fires the bookings' due timers: request expiry and reminders. */
  bookingClock: BookingClock;
  payments: PaymentService;
  webhooks: WebhookService;
  inbox: Inbox;
  /** The configured channels beyond the tab (email, push, WhatsApp, SMS). */
  channels: Channels;
  /** Sends notifications beyond the tab and records each delivery. */
  dispatcher: Dispatcher;
  /** Demo mode only: what the in-process fakes of email, SMS, WhatsApp and push received. */
  demoOutbox?: DemoOutbox;
  reconciler: Reconciler | null;
  attention: AttentionQueue;
  escrowAdmin: EscrowAdmin;
  clientModes: ClientModeTracker;
  /** The database's state and the log's bounds for /api/status, refreshed in the background. */
  statusFigures: StatusFigures;
  lifecycle: Lifecycle;
  /** TRUST_PROXY compiled once: Express's `trust proxy` and the failed-authentication limit use it alike. */
  trustProxy: TrustProxy;
  /** Answers polls for both ways in (poll-endpoint.ts): one window, one rate-limit count. */
  poller: Poller;
  /** Opens streams for both ways in (stream-endpoint.ts). */
  streams: StreamOpener;
  /** Answers every failed request, Express's and the endpoints' before it (http/error-handler.ts). */
  answerError: ErrorAnswer;
}

/**
 * Builds every service of one server on `db` from a config that is final (demo mode's fakes, if
 * any, already in it). Nothing runs yet: no timer, no query, no connection; jobs.ts starts what
 * runs in the background, and runtime.ts listens. The CLIs build the same way.
 */
export function buildServices(config: Config, db: Database, logger: Logger, demoOutbox?: DemoOutbox): Services {
  const registry = new ChannelRegistry();
  const heldPolls = new HeldPolls();
  // Live here: a stream open or a long poll held (a phone in the foreground). Escalation by push
  // or text waits for neither; every instance's dispatcher reads it (realtime/stream-presence.ts).
  const isLive = (userId: string) => registry.hasUser(userId) || heldPolls.hasUser(userId);
  const presence = new StreamPresence(db.knex, config.INSTANCE_ID, isLive, logger);
  registry.onUserChange = (userId) => presence.changed(userId);
  heldPolls.onUserChange = (userId) => presence.changed(userId);
  const telemetry = new Telemetry(() => registry.counts());
  // It reads the log on its own cursor, after commits: publishing pays nothing for it.
  const channels = buildChannels({ config, knex: db.knex, isLive, telemetry, logger });
  // Holds each run before the held polls it wakes look: they answer from memory.
  const pollWindow: PollWindow = new PollWindow(db.knex, () => relay.dispatchedId);
  const relay: OutboxRelay = new OutboxRelay(
    db.knex,
    toLiveSessions({ registry, pollWindow, heldPolls, telemetry, dispatcher: channels.dispatcher }),
    logger,
    config.RELAY_POLL_MS,
    (through) => pollWindow.prunedThrough(through),
  );
  const attention = new AttentionQueue(db.knex, attentionRules(config));
  const toRelay: OnCommitted = (events) => {
    telemetry.eventsPublished.inc(events.length);
    relay.offer(events);
  };
  const publisher = new EventPublisher(
    db.knex,
    toRelay,
    deriveAlertsAndNotifications(attention, notificationsOf(config.MARKETPLACE_TIME_ZONE)),
    config.INSTANCE_ID,
  );
  const statusFigures = new StatusFigures(db.knex, logger);
  const tickets = createTicketStore(db.knex, config.TICKET_TTL_MS);
  const paystack = paystackOf(config, logger);
  const payments = new PaymentService(db.knex, publisher, paystack, logger);
  const reconciler = paystack
    ? new Reconciler(db.knex, publisher, paystack, payments, logger, reconcilerOptions(config), (kind) => telemetry.reconciled.inc({ kind }))
    : null;
  const tokens = createTokenService(config.JWT_SECRET, tokenPolicyOf(config));
  const syncUser = createUserSync(db.knex);
  const lifecycle: Lifecycle = { draining: false, startedAt: new Date(), version: PACKAGE_VERSION };
  const trust = trustProxy(config.TRUST_PROXY);
  const answerError = errorAnswer({
    guesses: guessLimit(config.AUTH_FAILURE_LIMIT_PER_5MIN, trust),
    onError: (err) => {
      telemetry.recordError(err.code);
      if (err.code === 'DATABASE_UNAVAILABLE') statusFigures.databaseFailed();
    },
  });
  return {
    config,
    logger,
    db,
    tokens,
    syncUser,
    writeLimit: writeLimit(config.WRITE_RATE_LIMIT_PER_MIN),
    tickets,
    registry,
    heldPolls,
    presence,
    pollWindow,
    relay,
    listener: config.DATABASE_URL ? new CommitListener(config.DATABASE_URL, () => relay.poke(), logger, config.INSTANCE_ID) : null,
    publisher,
    telemetry,
    paystack,
    payments,
    inbox: new Inbox(db.knex, publisher),
    channels,
    dispatcher: channels.dispatcher,
    demoOutbox,
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
    lifecycle,
    trustProxy: trust,
    answerError,
    poller: new Poller({ config, db, pollWindow, heldPolls, relay, telemetry, lifecycle, tokens, syncUser }),
    streams: new StreamOpener({ config, logger, db, telemetry, relay, registry, tokens, tickets, syncUser, lifecycle }),
  };
}

/**
 * The relay's consumer: each run of committed events, in id order, to everything live here: the
 * open streams (the registry decides who), the poll window, then the held polls it wakes; and the
 * dispatcher hears of new notifications, to look at them sooner than its own timer would.
 */
function toLiveSessions(t: {
  registry: ChannelRegistry;
  pollWindow: PollWindow;
  heldPolls: HeldPolls;
  telemetry: Telemetry;
  dispatcher: Pick<Dispatcher, 'noteNotification'>;
}): DeliverRun {
  return (events, after) => {
    const reached = t.registry.dispatch(events);
    events.forEach((e, i) => {
      t.telemetry.recordFanout(e.occurredAt, reached[i]);
      if (e.type === 'notification.created') t.dispatcher.noteNotification(e.id);
    });
    t.pollWindow.append(after, events);
    t.heldPolls.dispatch(events);
  };
}

function paystackOf(config: Config, logger: Logger): PaystackClient | null {
  if (!config.PAYSTACK_SECRET_KEY) {
    logger.warn({ code: 'PAYSTACK_NOT_CONFIGURED' }, 'PAYSTACK_SECRET_KEY is not set; payment routes answer 502');
    return null;
  }
  return createPaystackClient({ baseUrl: config.PAYSTACK_BASE_URL, secretKey: config.PAYSTACK_SECRET_KEY, timeoutMs: config.PAYSTACK_TIMEOUT_MS, logger });
}
