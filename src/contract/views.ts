import { z } from 'zod';
import { Role, UserId, BookingStatus, PaymentStatus, PayoutStatus, DeliveryChannel } from './vocabulary';

/*
 * What the routes answer and the events carry, as zod schemas: the OpenAPI and AsyncAPI documents
 * are generated from them and the code's types are inferred from them. Money is integer cents;
 * ids are decimal strings (bigint-safe in JSON); times are ISO 8601 strings.
 */

/** Integer cents. */
export const Cents = z.number().int();
const Timestamp = z.string().describe('ISO 8601 date-time');
export const Id = z.string().describe('A decimal id');

/** A list's next page: pass it as `cursor` (or `before`); null on the last page. */
export const NextCursor = z.string().nullable();

/**
 * A payment and a payout as the money routes list them. Open objects: fields may be added, and a
 * client ignores the ones it does not know.
 */
export const PaymentItem = z.looseObject({
  id: Id,
  bookingId: Id,
  reference: z.string(),
  status: PaymentStatus,
  amount: Cents,
  currency: z.string(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type PaymentItem = z.infer<typeof PaymentItem>;

export const PayoutItem = z.looseObject({
  id: Id,
  bookingId: Id,
  reference: z.string(),
  status: PayoutStatus,
  amount: Cents,
  currency: z.string(),
  /** Why it failed or was reversed; absent otherwise. */
  reason: z.string().optional(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type PayoutItem = z.infer<typeof PayoutItem>;

/** A booking as its provider and the operators see it. */
export const BookingView = z.object({
  id: Id,
  clientId: z.string(),
  providerId: z.string(),
  service: z.string(),
  scheduledFor: Timestamp,
  amount: Cents,
  currency: z.string(),
  notes: z.string().nullable(),
  status: BookingStatus,
  reason: z.string().nullable(),
  payment: z.looseObject({ id: Id, reference: z.string(), status: z.string(), amount: Cents }).nullable(),
  payout: z.looseObject({ id: Id, status: z.string(), amount: Cents, reason: z.string().optional() }).nullable(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type BookingView = z.infer<typeof BookingView>;

/** A booking as its client sees it, and as `booking.*` events carry it: the payout is not theirs to see. */
export const ClientBookingView = BookingView.omit({ payout: true });
export type ClientBookingView = z.infer<typeof ClientBookingView>;

/** A booking as the caller may see it. */
export const SeenBookingView = z.union([BookingView, ClientBookingView]);

export const NotificationView = z.object({
  id: Id,
  type: z.string(),
  title: z.string(),
  body: z.string(),
  data: z.unknown(),
  createdAt: Timestamp,
  readAt: Timestamp.nullable(),
  silent: z.boolean(),
});
export type NotificationView = z.infer<typeof NotificationView>;

/** Where a notification went beyond the app: one per channel (src/channels/). */
export const DeliveryView = z.object({
  channel: DeliveryChannel,
  status: z.enum(['queued', 'sending', 'sent', 'delivered', 'failed', 'skipped']),
  reason: z.string().nullable().describe('Why it was skipped or failed, in words'),
  dueAt: Timestamp,
  sentAt: Timestamp.nullable(),
  attempts: z.number().int(),
});
export type DeliveryView = z.infer<typeof DeliveryView>;

/** A notification in the caller's inbox, with where it went. */
export const InboxNotificationView = NotificationView.extend({ deliveries: z.array(DeliveryView) });

/** A user's notification preferences, as the API shows them. */
export const ContactPreferencesView = z.object({
  mutedTypes: z.array(z.string()),
  email: z.string().nullable(),
  effectiveEmail: z.string().nullable().describe("The address receipts go to: the one set here, or else the profile's"),
  phone: z.string().nullable().describe('E.164'),
  timeZone: z.string(),
  quietHours: z.object({ start: z.string(), end: z.string() }).nullable(),
  channels: z.record(z.string(), z.array(DeliveryChannel)).describe('Per notification type, the channels it may use'),
});
export type ContactPreferencesView = z.infer<typeof ContactPreferencesView>;

/** The signed-in user; only a provider's speaks of a payout account. */
export const Profile = z.object({
  id: UserId,
  role: Role,
  name: z.string().nullable(),
  email: z.string().nullable(),
  services: z.array(z.string()),
  payoutAccount: z
    .union([
      z.object({ status: z.literal('active'), accountName: z.string().nullable(), bankCode: z.string().nullable(), accountNumberLast4: z.string().nullable() }),
      z.object({ status: z.literal('missing') }),
    ])
    .optional(),
});
export type Profile = z.infer<typeof Profile>;

/** Why money waits for a person. */
export const AttentionReason = z.enum([
  'FLAGGED',
  'REFUND_FAILING',
  'CLIENT_DISPUTE',
  'CARD_DISPUTE',
  'PAYOUT_FAILED',
  'PAYOUT_REVERSED',
  'OTP_REQUIRED',
  'STALLED_WORK',
  'CHARGEBACK_LOSS',
  'NEGATIVE_MARGIN',
]);
export type AttentionReason = z.infer<typeof AttentionReason>;

/** One case in the operators' queue. */
export const AttentionItem = z.object({
  kind: z.enum(['payment', 'payout', 'booking']),
  id: z.string(),
  bookingId: z.string(),
  reason: AttentionReason,
  amount: z.number().int(),
  currency: z.string(),
  since: z.string(),
});
export type AttentionItem = z.infer<typeof AttentionItem>;

/** GET /api/sync: the caller's state and the event cursor it is consistent with. */
export const SyncState = z.object({
  cursor: Id.describe('The event id this state is consistent with: poll `after` it, or stream with it as Last-Event-ID'),
  profile: Profile,
  bookings: z.object({ active: z.array(SeenBookingView), recent: z.array(SeenBookingView) }),
  payments: z.object({ items: z.array(PaymentItem), nextCursor: NextCursor }),
  payouts: z
    .object({ items: z.array(PayoutItem), nextCursor: NextCursor })
    .optional()
    .describe("Providers' and admins' only"),
  notifications: z.object({ unread: z.array(InboxNotificationView), unreadCount: z.number().int(), nextCursor: NextCursor }),
});
export type SyncState = z.infer<typeof SyncState>;

/** One message the demo's fake far ends received (demo mode only): what a person would have got. */
export const OutboxMessageView = z.object({
  id: Id.describe('Grows with each message; newest first in the list'),
  channel: DeliveryChannel,
  to: z.string().describe('The address it went to: an email address, an E.164 number, or the push subscription'),
  recipient: z.string().nullable().describe("The demo user's name, when the address is one of theirs"),
  at: Timestamp.describe('When the fake received it'),
  title: z.string().describe("An email's subject, a push notification's title, a WhatsApp template's Content SID; empty for free text"),
  text: z.string().describe('What the person reads'),
  status: z
    .string()
    .describe("For SMS and WhatsApp, the last status the fake reported back by its signed callback (`delivered`), and our answer's outcome; else `received`"),
});
export type OutboxMessageView = z.infer<typeof OutboxMessageView>;

/** GET /api/demo/outbox: every message the demo sent beyond the app, newest first, and the delays it escalates after. */
export const DemoOutboxView = z.object({
  messages: z.array(OutboxMessageView),
  escalation: z.object({
    pushAfterS: z.number().int().describe('An unread notification goes by push after this long, when its recipient has no live stream'),
    textAfterS: z.number().int().describe('An unread notification goes by WhatsApp (or SMS) after this long'),
  }),
});
export type DemoOutboxView = z.infer<typeof DemoOutboxView>;
