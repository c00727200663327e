import type { Config } from './config';
import type { Logger } from './logger';
import type { Database } from './storage/db';
import type { TokenService } from './auth/jwt';
import type { TicketStore } from './auth/stream-tickets';
import type { ChannelRegistry } from './realtime/channel-registry';
import type { OutboxRelay } from './events/outbox-relay';
import type { EventPublisher } from './events/event-publisher';
import type { Telemetry } from './ops/telemetry';
import type { UserClaims } from './users/user-repository';
import type { PaystackClient } from './payments/paystack-client';
import type { BookingService } from './bookings/booking-service';
import type { PaymentService } from './payments/payment-service';
import type { WebhookService } from './payments/webhook-service';
import type { NotificationService } from './notifications/notification-service';
import type { Reconciler } from './payments/reconciliation';
import type { ClientModeTracker } from './realtime/client-modes';
import type { HeldPolls } from './realtime/held-polls';

/** Everything the HTTP layer needs, injected so tests build the real app on a real database. */
export interface AppDeps {
  config: Config;
  logger: Logger;
  db: Database;
  tokens: TokenService;
  syncUser: (c: UserClaims) => Promise<void>;
  tickets: TicketStore;
  registry: ChannelRegistry;
  heldPolls: HeldPolls;
  relay: OutboxRelay;
  publisher: EventPublisher;
  telemetry: Telemetry;
  paystack: PaystackClient | null;
  bookings: BookingService;
  payments: PaymentService;
  webhooks: WebhookService;
  notifications: NotificationService;
  reconciler: Reconciler | null;
  clientModes: ClientModeTracker;
  lifecycle: { draining: boolean; startedAt: Date; version: string };
}
