/*
 * The browser client's public types. This folder is compiled on its own (tsconfig.client.json,
 * DOM lib, ES modules) into public/lib/, which the pages load. This file has no imports, so the
 * tests (in Node) share its list of event types.
 */

/** What the server sends, identical on the stream (`data:`) and in `GET /api/events`. */
export interface EventEnvelope {
  id: string;
  type: string;
  occurredAt: string;
  data: unknown;
}

/**
 * `connecting` until the first stream opens or polling starts. `signed-out` when the server
 * refused the token and a fresh one from getToken() too: the client stops (it does not retry
 * a refused token forever); stop() and start() it again once the user has signed in.
 */
export type ConnectionState = 'connecting' | 'live' | 'polling' | 'offline' | 'signed-out';

/**
 * The event types the server sends today. EventSource only reports a named event to a listener for
 * that name (there is no wildcard), so the stream listens to these plus every type a page
 * subscribes to with on(); any other type is not seen on the stream (it is in polling). The
 * tests' stream client listens to the same list (test/helpers/sse-client.ts).
 */
export const KNOWN_EVENT_TYPES = [
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
  'payment.status_changed',
  'payment.dispute_opened',
  'payment.dispute_resolved',
  'payment.refund_failing',
  'payment.chargeback_loss',
  'payment.partially_refunded',
  'payout.status_changed',
  'booking.admin_action',
  'ops.attention',
  'notification.created',
  'notification.read',
];
