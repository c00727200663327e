import { z } from 'zod';
import type { ErrorCode } from '../errors/app-error';
import { EmptyBody } from '../http/validate';
import { UserId, Role, PaymentStatus, PayoutStatus } from '../contract/vocabulary';
import { BookingAction } from '../bookings/booking-state';
import { CreateBookingRequest, DisputeRequest, ListBookingsQuery, PaymentRequest, ReasonRequest } from '../bookings/booking-schemas';
import { BroadcastRequest } from '../broadcasts/broadcast-schemas';
import { InboxQuery } from '../notifications/notification-routes';
import { ContactPreferencesInput } from '../channels/contact-preferences';
import { PushSubscriptionInput, Unsubscribe } from '../channels/push-routes';
import { TwilioStatusCallback } from '../channels/twilio-callbacks';
import { ListPaymentsQuery, ListPayoutsQuery } from '../payments/money-lists';
import { AdminAction, AdminActionRequest } from '../payments/escrow-admin';
import { ProvidersQuery, ServicesRequest } from '../users/user-routes';
import { PayoutAccountRequest } from '../payments/payout-account-routes';
import { ModeReport } from '../realtime/client-mode-routes';
import { PollQuery } from '../realtime/poll';
import { StreamQuery } from '../realtime/stream-open';
import { ResetRequest, SessionRequest } from '../demo/demo-routes';
import { PollResponse } from '../contract/events';
import {
  AttentionItem,
  BookingView,
  ContactPreferencesView,
  DemoOutboxView,
  Id,
  InboxNotificationView,
  NextCursor,
  NotificationView,
  PaymentItem,
  PayoutItem,
  Profile,
  SeenBookingView,
  SyncState,
} from '../contract/views';

/*
 * Every HTTP route, described for the OpenAPI document: what it reads (the zod schemas that
 * validate it) and what it answers (the contract's views), and the error codes it can give beyond
 * those every route of its kind can. A route added to the app without an entry here fails a test
 * (test/integration/contract-documents.test.ts).
 */

export type Auth = 'none' | 'bearer' | 'bearer-or-ticket' | 'paystack-signature' | 'twilio-signature' | 'metrics-token';

/** An answer that is not JSON: the media type it is sent as. */
export interface RawAnswer {
  mediaType: string;
  description: string;
}

export interface Operation {
  method: 'get' | 'post' | 'put' | 'delete';
  /** OpenAPI's form: `{id}` for a path parameter. */
  path: string;
  summary: string;
  tag: string;
  auth: Auth;
  path_params?: Record<string, z.ZodType>;
  query?: z.ZodType;
  body?: z.ZodType;
  /** The body's media type when it is not JSON. */
  bodyMediaType?: 'application/x-www-form-urlencoded';
  /** Accepts `Idempotency-Key`: a retry with the same key gets the first answer. */
  idempotent?: boolean;
  /** Success answers by status. */
  answers: Record<number, z.ZodType | RawAnswer>;
  /** Error codes particular to this route. */
  errors?: readonly ErrorCode[];
  /** Mounted only in demo mode. */
  demoOnly?: boolean;
}

const RowIdParam = z.string().describe('A decimal id');
const byId = { id: RowIdParam };
const Ok = (status: string) => z.object({ status: z.literal(status) });
const page = <K extends string>(key: K, item: z.ZodType) => z.object({ [key]: z.array(item), nextCursor: NextCursor } as Record<K, z.ZodType>);
/** What a figure-heavy ops answer carries beyond its named fields is for people, and may grow. */
const figures = (shape: z.ZodRawShape) => z.looseObject(shape);

const ADMIN_ACTIONS = AdminAction.options;

export const OPERATIONS: readonly Operation[] = [
  // src/ops
  { method: 'get', path: '/healthz', summary: 'The process is up', tag: 'ops', auth: 'none', answers: { 200: Ok('ok') } },
  {
    method: 'get',
    path: '/readyz',
    summary: 'Ready for traffic: the database is reachable and migrated, and the server is not draining',
    tag: 'ops',
    auth: 'none',
    answers: { 200: Ok('ready') },
    errors: ['SHUTTING_DOWN', 'DATABASE_UNAVAILABLE'],
  },
  {
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics (a bearer METRICS_TOKEN when one is set)',
    tag: 'ops',
    auth: 'metrics-token',
    answers: { 200: { mediaType: 'text/plain', description: 'Prometheus text exposition format' } },
  },
  {
    method: 'get',
    path: '/api/status',
    summary: "This instance's figures; `detail=1` adds the process's (behind METRICS_TOKEN when one is set)",
    tag: 'ops',
    auth: 'none',
    query: z.object({ detail: z.enum(['1']).optional() }),
    answers: {
      200: figures({
        status: z.enum(['ok', 'degraded', 'draining']),
        version: z.string(),
        instanceId: z.string(),
        uptimeSeconds: z.number().int(),
        database: figures({ kind: z.string() }),
        streams: figures({ open: z.number().int() }),
        longPolls: z.looseObject({}),
        events: figures({ lastEventId: z.string().nullable() }),
      }),
    },
    errors: ['AUTH_REQUIRED', 'AUTH_INVALID'],
  },
  // src/realtime
  {
    method: 'get',
    path: '/api/events',
    summary: 'Poll the events after a cursor; `wait` holds the poll until one comes (long polling)',
    tag: 'events',
    auth: 'bearer',
    query: PollQuery,
    answers: { 200: PollResponse },
    errors: ['TOO_MANY_POLLS'],
  },
  {
    method: 'post',
    path: '/api/events/tickets',
    summary: 'Trade the bearer token for a single-use stream ticket (EventSource cannot send headers)',
    tag: 'events',
    auth: 'bearer',
    answers: { 201: z.object({ ticket: z.string(), expiresInMs: z.number().int() }) },
  },
  {
    method: 'get',
    path: '/api/events/stream',
    summary: 'The event stream (Server-Sent Events); its messages are described in /api/asyncapi.json',
    tag: 'events',
    auth: 'bearer-or-ticket',
    query: StreamQuery,
    answers: { 200: { mediaType: 'text/event-stream', description: 'Events as in /api/asyncapi.json, resumable with Last-Event-ID' } },
    errors: ['TOO_MANY_STREAMS', 'SHUTTING_DOWN'],
  },
  {
    method: 'post',
    path: '/api/events/client-mode',
    summary: "Report a dashboard session's connection mode (live, polling, offline)",
    tag: 'events',
    auth: 'bearer',
    body: ModeReport,
    answers: { 204: { mediaType: '', description: 'Recorded' } },
  },
  {
    method: 'get',
    path: '/api/sync',
    summary: "The caller's state and the event cursor it is consistent with: load it, then poll or stream from `cursor`",
    tag: 'events',
    auth: 'bearer',
    answers: { 200: SyncState },
  },
  // src/broadcasts
  {
    method: 'post',
    path: '/api/broadcasts',
    summary: 'Announce to listed users, a role, or everyone (admins)',
    tag: 'broadcasts',
    auth: 'bearer',
    idempotent: true,
    body: BroadcastRequest,
    answers: { 202: z.object({ eventId: z.string() }) },
    errors: ['FORBIDDEN'],
  },
  // src/users
  {
    method: 'get',
    path: '/api/me',
    summary: 'The caller, with their unread notification count',
    tag: 'users',
    auth: 'bearer',
    answers: { 200: Profile.extend({ unreadCount: z.number().int() }) },
  },
  {
    method: 'put',
    path: '/api/me/services',
    summary: 'The services a provider offers',
    tag: 'users',
    auth: 'bearer',
    body: ServicesRequest,
    answers: { 200: Profile },
    errors: ['FORBIDDEN'],
  },
  {
    method: 'put',
    path: '/api/me/payout-account',
    summary: "A provider's bank account for payouts (registered with Paystack)",
    tag: 'users',
    auth: 'bearer',
    body: PayoutAccountRequest,
    answers: { 200: Profile },
    errors: ['FORBIDDEN', 'PAYOUT_ACCOUNT_REJECTED', 'PAYMENT_PROVIDER_UNAVAILABLE'],
  },
  {
    method: 'get',
    path: '/api/providers',
    summary: 'Providers, optionally of one service',
    tag: 'users',
    auth: 'bearer',
    query: ProvidersQuery,
    answers: { 200: page('providers', z.object({ id: UserId, name: z.string().nullable(), services: z.array(z.string()) })) },
  },
  // src/payments
  {
    method: 'post',
    path: '/api/webhooks/paystack',
    summary: "Paystack's webhooks, signed with the secret key (x-paystack-signature)",
    tag: 'payments',
    auth: 'paystack-signature',
    body: z.looseObject({ event: z.string(), data: z.unknown() }),
    answers: { 200: z.object({ received: z.literal(true), outcome: z.string() }) },
    errors: ['WEBHOOK_SIGNATURE_INVALID', 'WEBHOOK_NOT_CONFIGURED'],
  },
  // src/channels
  {
    method: 'post',
    path: '/api/webhooks/twilio',
    summary: "Twilio's message status callbacks (form-encoded), signed with the auth token (X-Twilio-Signature)",
    tag: 'notifications',
    auth: 'twilio-signature',
    body: TwilioStatusCallback,
    bodyMediaType: 'application/x-www-form-urlencoded',
    answers: { 200: z.object({ received: z.literal(true), outcome: z.enum(['delivered', 'failed', 'duplicate', 'ignored']) }) },
    errors: ['WEBHOOK_SIGNATURE_INVALID', 'WEBHOOK_NOT_CONFIGURED'],
  },
  {
    method: 'post',
    path: '/api/bookings/{id}/payment',
    summary: "Start the client's Paystack checkout for a confirmed booking",
    tag: 'payments',
    auth: 'bearer',
    path_params: byId,
    idempotent: true,
    body: PaymentRequest,
    answers: { 200: z.object({ reference: z.string(), authorizationUrl: z.string(), accessCode: z.string() }) },
    errors: ['FORBIDDEN', 'INVALID_TRANSITION', 'EMAIL_REQUIRED', 'PAYMENT_PROVIDER_UNAVAILABLE'],
  },
  {
    method: 'post',
    path: '/api/payouts/{id}/retry',
    summary: 'Send a failed payout again (admins)',
    tag: 'payments',
    auth: 'bearer',
    path_params: byId,
    idempotent: true,
    body: EmptyBody,
    answers: {
      200: z.object({
        id: z.string(),
        bookingId: z.string(),
        reference: z.string(),
        status: PayoutStatus,
        amount: z.number().int(),
        reason: z.string().optional(),
      }),
    },
    errors: ['FORBIDDEN', 'INVALID_TRANSITION', 'PAYMENT_PROVIDER_UNAVAILABLE'],
  },
  {
    method: 'get',
    path: '/api/ledger/summary',
    summary: 'Sums per currency, consistency checks and the double-entry journal (admins)',
    tag: 'payments',
    auth: 'bearer',
    answers: {
      200: figures({
        asOf: z.string(),
        feeBps: z.number().int(),
        currencies: z.record(z.string(), z.looseObject({})),
        checks: z.array(z.looseObject({ name: z.string(), ok: z.boolean() })),
        balanced: z.boolean(),
        journal: z.looseObject({}),
      }),
    },
    errors: ['FORBIDDEN'],
  },
  {
    method: 'get',
    path: '/api/payments',
    summary: "Payments: a client's own, a provider's bookings', or (admins) all; newest first",
    tag: 'payments',
    auth: 'bearer',
    query: ListPaymentsQuery,
    answers: { 200: page('payments', PaymentItem) },
  },
  {
    method: 'get',
    path: '/api/payouts',
    summary: "Payouts: a provider's own, or (admins) all; newest first",
    tag: 'payments',
    auth: 'bearer',
    query: ListPayoutsQuery,
    answers: { 200: page('payouts', PayoutItem) },
    errors: ['FORBIDDEN'],
  },
  {
    method: 'get',
    path: '/api/ops/attention',
    summary: "The operators' queue: every case in which money waits for a person (admins)",
    tag: 'operators',
    auth: 'bearer',
    answers: { 200: z.object({ items: z.array(AttentionItem) }) },
    errors: ['FORBIDDEN'],
  },
  ...ADMIN_ACTIONS.map((action): Operation => ({
    method: 'post',
    path: `/api/ops/bookings/{id}/${action}`,
    summary: `An operator's decision on a booking's money: ${action} (admins)`,
    tag: 'operators',
    auth: 'bearer',
    path_params: byId,
    idempotent: true,
    body: AdminActionRequest,
    answers: { 200: z.object({ bookingId: z.string(), action: z.literal(action), paymentStatus: PaymentStatus }) },
    errors: [
      'FORBIDDEN',
      'INVALID_TRANSITION',
      'DISPUTE_OPEN',
      'PAYMENT_PROVIDER_UNAVAILABLE',
      ...(action === 'refund' ? (['AMOUNT_EXCEEDS_HELD'] as const) : []),
    ],
  })),
  // src/bookings
  {
    method: 'post',
    path: '/api/bookings',
    summary: 'Book a provider (clients)',
    tag: 'bookings',
    auth: 'bearer',
    idempotent: true,
    body: CreateBookingRequest,
    answers: { 201: SeenBookingView },
    errors: ['FORBIDDEN', 'PROVIDER_NOT_FOUND', 'TOO_MANY_PENDING'],
  },
  {
    method: 'get',
    path: '/api/bookings',
    summary: "The caller's bookings (admins: all), newest first",
    tag: 'bookings',
    auth: 'bearer',
    query: ListBookingsQuery,
    answers: { 200: page('bookings', SeenBookingView) },
  },
  {
    method: 'get',
    path: '/api/bookings/{id}',
    summary: 'One booking, as the caller may see it',
    tag: 'bookings',
    auth: 'bearer',
    path_params: byId,
    answers: { 200: SeenBookingView },
  },
  ...BookingAction.options.map((action): Operation => ({
    method: 'post',
    path: `/api/bookings/{id}/${action}`,
    summary: `Move a booking: ${action}`,
    tag: 'bookings',
    auth: 'bearer',
    path_params: byId,
    idempotent: true,
    body: action === 'dispute' ? DisputeRequest : action === 'reject' || action === 'cancel' ? ReasonRequest : EmptyBody,
    answers: { 200: SeenBookingView },
    errors: ['FORBIDDEN', 'INVALID_TRANSITION', 'PAYMENT_REQUIRED', 'TOO_EARLY', 'DISPUTE_OPEN', 'REQUEST_EXPIRED', 'PAYMENT_PROVIDER_UNAVAILABLE'],
  })),
  // src/notifications
  {
    method: 'get',
    path: '/api/notifications',
    summary: "The caller's notifications, newest first",
    tag: 'notifications',
    auth: 'bearer',
    query: InboxQuery,
    answers: { 200: z.object({ notifications: z.array(InboxNotificationView), unreadCount: z.number().int(), nextCursor: NextCursor }) },
  },
  {
    method: 'post',
    path: '/api/notifications/read-all',
    summary: 'Mark every notification read',
    tag: 'notifications',
    auth: 'bearer',
    idempotent: true,
    body: EmptyBody,
    answers: { 200: z.object({ unreadCount: z.number().int() }) },
  },
  {
    method: 'post',
    path: '/api/notifications/{id}/read',
    summary: 'Mark one notification read',
    tag: 'notifications',
    auth: 'bearer',
    path_params: byId,
    idempotent: true,
    body: EmptyBody,
    answers: { 200: z.object({ unreadCount: z.number().int() }) },
  },
  {
    method: 'get',
    path: '/api/me/notification-preferences',
    summary: "The caller's notification preferences: muted types, contact details, quiet hours, channels per type",
    tag: 'notifications',
    auth: 'bearer',
    answers: { 200: ContactPreferencesView },
  },
  {
    method: 'put',
    path: '/api/me/notification-preferences',
    summary: 'Set notification preferences; `{mutedTypes}` alone changes nothing else',
    tag: 'notifications',
    auth: 'bearer',
    body: ContactPreferencesInput,
    answers: { 200: ContactPreferencesView },
  },
  // src/channels
  {
    method: 'get',
    path: '/api/push/vapid-public-key',
    summary: 'The key a browser subscribes to Web Push with',
    tag: 'notifications',
    auth: 'none',
    // A server without VAPID keys has no push.
    errors: ['NOT_FOUND'],
    answers: { 200: z.object({ publicKey: z.string() }) },
  },
  {
    method: 'post',
    path: '/api/me/push-subscriptions',
    summary: "Add the browser's PushSubscription (https endpoints on public hosts only)",
    tag: 'notifications',
    auth: 'bearer',
    body: PushSubscriptionInput,
    answers: { 201: z.object({ id: Id }) },
  },
  {
    method: 'delete',
    path: '/api/me/push-subscriptions',
    summary: 'Remove a push subscription by its endpoint',
    tag: 'notifications',
    auth: 'bearer',
    errors: ['NOT_FOUND'],
    body: Unsubscribe,
    answers: { 204: { mediaType: '', description: 'Removed' } },
  },
  // src/docs
  {
    method: 'get',
    path: '/api/openapi.json',
    summary: 'This document',
    tag: 'contract',
    auth: 'none',
    answers: { 200: z.looseObject({ openapi: z.literal('3.1.0') }) },
  },
  {
    method: 'get',
    path: '/api/asyncapi.json',
    summary: 'The events of the stream and the poll (AsyncAPI 3)',
    tag: 'contract',
    auth: 'none',
    answers: { 200: z.looseObject({ asyncapi: z.string() }) },
  },
  // src/demo
  {
    method: 'get',
    path: '/api/demo/users',
    summary: "The demo's users (demo mode only)",
    tag: 'demo',
    auth: 'none',
    demoOnly: true,
    // Outside demo mode the route is not there.
    errors: ['NOT_FOUND'],
    answers: { 200: z.object({ users: z.array(z.looseObject({ id: UserId, role: Role, name: z.string() })) }) },
  },
  {
    method: 'post',
    path: '/api/demo/sessions',
    summary: 'Sign in as a demo user (demo mode only)',
    tag: 'demo',
    auth: 'none',
    demoOnly: true,
    // A user the demo did not seed; outside demo mode, the route is not there.
    errors: ['NOT_FOUND'],
    body: SessionRequest,
    answers: { 201: z.object({ token: z.string(), user: z.looseObject({ id: UserId, role: Role }), expiresInSeconds: z.number().int() }) },
  },
  {
    method: 'get',
    path: '/api/demo/outbox',
    summary: 'Every email, SMS, WhatsApp and push the demo sent, as its in-process fakes received them, newest first (demo mode only)',
    tag: 'demo',
    auth: 'none',
    demoOnly: true,
    // Outside demo mode the route is not there.
    errors: ['NOT_FOUND'],
    answers: { 200: DemoOutboxView },
  },
  {
    method: 'post',
    path: '/api/demo/reset',
    summary: 'Start the demo over: every booking, payment, payout, notification and outbox message goes, the users stay (demo mode only)',
    tag: 'demo',
    auth: 'none',
    demoOnly: true,
    // Outside demo mode the route is not there.
    errors: ['NOT_FOUND'],
    body: ResetRequest,
    answers: { 200: z.object({ reset: z.literal(true) }) },
  },
  // src/ops
  {
    method: 'get',
    path: '/api/settings',
    summary: 'What every page needs to say things as the server does: the marketplace time zone',
    tag: 'ops',
    auth: 'none',
    answers: { 200: z.object({ timeZone: z.string().describe('IANA zone every time is said in, e.g. Africa/Johannesburg') }) },
  },
];

/** Views named in the document's components, so a client generator gives them their names. */
export const NAMED_SCHEMAS: Record<string, z.ZodType> = {
  BookingView,
  PaymentItem,
  PayoutItem,
  NotificationView,
  Profile,
  SyncState,
  PollResponse,
  AttentionItem,
};
