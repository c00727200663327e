import type { RequestHandler } from 'express';
import type { Config } from './config';
import type { Logger } from './logger';
import type { Database } from './storage/db';
import type { TokenService } from './auth/jwt';
import type { TicketStore } from './auth/stream-tickets';
import type { ChannelRegistry } from './realtime/channel-registry';
import type { OutboxRelay } from './events/outbox-relay';
import type { EventPublisher } from './events/event-publisher';
import type { Telemetry } from './metrics/telemetry';
import type { UserClaims } from './users/user-repository';
import type { PaystackClient } from './payments/paystack-client';
import type { BookingService } from './bookings/booking-service';
import type { BookingClock } from './bookings/booking-clock';
import type { PaymentService } from './payments/payment-service';
import type { WebhookService } from './payments/webhook-service';
import type { NotificationService } from './notifications/notification-service';
import type { Reconciler } from './payments/reconciliation';
import type { ClientModeTracker } from './realtime/client-modes';
import type { AttentionQueue } from './payments/attention';
import type { EscrowAdmin } from './payments/escrow-admin';
import type { StatusFigures } from './ops/status-figures';
import type { HeldPolls } from './realtime/held-polls';
import type { Dispatcher } from './channels/dispatcher';
import type { DemoOutbox } from './demo/demo-outbox';

/** Everything the HTTP layer needs, injected so tests build the real app on a real database. */
export interface AppDeps {
  config: Config;
  logger: Logger;
  db: Database;
  tokens: TokenService;
  syncUser: (c: UserClaims) => Promise<void>;
  /** Per-user writes (POST/PUT/DELETE) per minute; null when WRITE_RATE_LIMIT_PER_MIN=0. */
  writeLimit: RequestHandler | null;
  tickets: TicketStore;
  registry: ChannelRegistry;
  heldPolls: HeldPolls;
  relay: OutboxRelay;
  publisher: EventPublisher;
  telemetry: Telemetry;
  paystack: PaystackClient | null;
  bookings: BookingService;
  /** Fires the bookings' due timers: request expiry and reminders. */
  bookingClock: BookingClock;
  payments: PaymentService;
  webhooks: WebhookService;
  notifications: NotificationService;
  /** Sends notifications beyond the tab (email, push, WhatsApp, SMS) and records each delivery. */
  dispatcher: Dispatcher;
  /** Demo mode only: what the in-process fakes of email, SMS, WhatsApp and push received. */
  demoOutbox?: DemoOutbox;
  reconciler: Reconciler | null;
  attention: AttentionQueue;
  escrowAdmin: EscrowAdmin;
  clientModes: ClientModeTracker;
  /** The database's state and the log's bounds for /api/status, refreshed in the background. */
  statusFigures: StatusFigures;
  lifecycle: { draining: boolean; startedAt: Date; version: string };
}
