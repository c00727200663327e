/*
 * The names of the events the server sends. Free of imports, so the browser build loads it as it
 * is (tsconfig.client.json compiles it beside src/client); everything else about an event is a zod
 * schema in events.ts, which the browser only ever imports as types.
 */

/**
 * Every event type the server emits. Adding one: its name here, its `data` schema in events.ts
 * (EVENT_DATA does not compile until it has one).
 */
export const EVENT_TYPES = [
  'announcement',
  'booking.created',
  'booking.accepted',
  'booking.rejected',
  'booking.started',
  'booking.completed',
  'booking.cancelled',
  'booking.completion_confirmed',
  'booking.disputed',
  'booking.release_reminder',
  'booking.expired',
  'booking.request_reminder',
  'booking.reminder',
  'booking.admin_action',
  'payment.status_changed',
  'payment.dispute_opened',
  'payment.dispute_resolved',
  'payment.refund_failing',
  'payment.chargeback_loss',
  'payment.partially_refunded',
  'payout.status_changed',
  'ops.attention',
  'notification.created',
  'notification.read',
] as const;

export type EventTypeName = (typeof EVENT_TYPES)[number];

/** Messages on the stream that are not events of the log: they carry no `id` of their own. */
export const CONTROL_EVENTS = ['reset', 'auth_expired'] as const;
export type ControlEventName = (typeof CONTROL_EVENTS)[number];
