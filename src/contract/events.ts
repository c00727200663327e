import { z } from 'zod';
import { BookingStatus, PaymentStatus, PayoutStatus } from './vocabulary';
import type { ControlEventName, EventTypeName } from './event-names';
import { AttentionItem, Cents, ClientBookingView, Id, NotificationView } from './views';

/*
 * Every event's `data`, the envelope that carries it, and the poll's answer. The AsyncAPI document
 * is generated from these, and the tests hold every event they receive to it.
 */

/** `booking.*` moves, to both parties: the booking after the move and the status it left. */
const BookingMoved = z.object({
  booking: ClientBookingView,
  previousStatus: BookingStatus.nullable(),
  status: BookingStatus,
});

/** The money of one payment, as every `payment.*` event but the status change carries it. */
const PaymentFacts = z.object({ bookingId: Id, paymentId: Id, reference: z.string(), amount: Cents, currency: z.string() });

/** The `data` of each event type. A type missing here does not compile. */
export const EVENT_DATA = {
  announcement: z.object({ title: z.string(), body: z.string() }),
  'booking.created': BookingMoved,
  'booking.accepted': BookingMoved,
  'booking.rejected': BookingMoved,
  'booking.started': BookingMoved,
  'booking.completed': BookingMoved.extend({ autoReleaseAt: z.string().describe('When escrow releases by itself unless the client disputes') }),
  'booking.cancelled': BookingMoved.extend({ cancelledBy: z.enum(['client', 'provider', 'operator']).describe('Which side cancelled') }),
  'booking.completion_confirmed': BookingMoved.extend({ auto: z.boolean().describe('Released by itself after the wait, not by the client') }),
  'booking.disputed': BookingMoved.extend({ reason: z.string() }),
  'booking.release_reminder': z.object({ bookingId: Id, autoReleaseAt: z.string(), amount: Cents, currency: z.string() }),
  'booking.expired': BookingMoved,
  'booking.request_reminder': z.object({ bookingId: Id, scheduledFor: z.string(), expiresAt: z.string().describe('When the request expires unanswered') }),
  'booking.reminder': z.object({ bookingId: Id, scheduledFor: z.string(), hoursBefore: z.number().int().describe('24 or 1') }),
  'booking.admin_action': z.object({
    bookingId: Id,
    action: z.enum(['accept-flagged', 'refund', 'release', 'retry-refund']),
    reason: z.string(),
    paymentStatus: PaymentStatus,
    amount: Cents,
    currency: z.string(),
    refundAmount: Cents.optional().describe('For a refund: what goes back to the client (all that was held unless an amount was given)'),
  }),
  'payment.status_changed': PaymentFacts.extend({
    status: PaymentStatus,
    previousStatus: PaymentStatus.nullable(),
    refundedAmount: Cents.describe('What went back to the client so far, by partial refunds and card disputes'),
  }),
  'payment.dispute_opened': PaymentFacts,
  'payment.dispute_resolved': PaymentFacts.extend({
    resolution: z.string().nullable(),
    merchantWon: z.boolean(),
    refundAmount: Cents.optional().describe('When the customer won: what the bank took back'),
  }),
  'payment.refund_failing': PaymentFacts.extend({ reason: z.enum(['REFUND_REQUEST_FAILED', 'REFUND_FAILED', 'REFUND_NEEDS_ATTENTION']) }),
  'payment.chargeback_loss': PaymentFacts.extend({ lossAmount: Cents.describe('What the bank took back after the payout went out') }),
  'payment.partially_refunded': z.object({
    bookingId: Id,
    paymentId: Id,
    reference: z.string(),
    status: PaymentStatus.describe('Where the rest is: ESCROW (held) or RELEASED (paid out, less the fee)'),
    currency: z.string(),
    chargeAmount: Cents.describe('The whole charge'),
    amount: Cents.describe('What went back this time'),
    refundedAmount: Cents.describe('What went back so far'),
    heldAmount: Cents.describe('What is left of the charge'),
    cause: z.enum(['REFUND', 'CARD_DISPUTE']),
  }),
  'payout.status_changed': z.object({
    payoutId: Id,
    bookingId: Id,
    reference: z.string(),
    status: PayoutStatus,
    previousStatus: PayoutStatus.nullable(),
    amount: Cents,
    currency: z.string(),
    reason: z.string().optional(),
  }),
  'ops.attention': z.object({ bookingId: Id, item: AttentionItem }),
  'notification.created': z.object({
    notification: NotificationView,
    unreadCount: z.number().int().optional().describe("The recipient's unread count after it; absent for one shared by a role or everyone"),
  }),
  'notification.read': z.object({ ids: z.array(Id), unreadCount: z.number().int() }),
} satisfies Record<EventTypeName, z.ZodType>;

export type EventData<T extends EventTypeName> = z.infer<(typeof EVENT_DATA)[T]>;

/** What clients receive, identical on the stream (`data:`) and in polling responses. */
export const EventEnvelope = z.object({
  id: Id.describe('The event log id; the stream sends it as the SSE id, a poll resumes `after` it'),
  type: z.string(),
  occurredAt: z.string(),
  data: z.unknown(),
});
export type EventEnvelope = z.infer<typeof EventEnvelope>;

/** The envelope of one event type, with its `data`. */
export function envelopeOf<T extends EventTypeName>(type: T) {
  return EventEnvelope.extend({ type: z.literal(type), data: EVENT_DATA[type] });
}

/** Control messages on the stream: a cursor the server cannot honour, and a token that ran out. */
export const CONTROL_DATA = {
  reset: z.object({
    lastEventId: Id.describe('Where the stream goes on from: reload state (GET /api/sync), then apply what follows'),
    reason: z.string(),
  }),
  auth_expired: z.object({ reason: z.string() }),
} satisfies Record<ControlEventName, z.ZodType>;

/** GET /api/events. */
export const PollResponse = z.object({
  events: z.array(EventEnvelope),
  lastEventId: Id.describe('Pass it as `after` in the next poll'),
  hasMore: z.boolean(),
  reset: z.boolean().describe('The cursor could not be honoured: reload state (GET /api/sync) and poll from lastEventId'),
  pollIntervalMs: z.number().int(),
});
export type PollResponse = z.infer<typeof PollResponse>;
