import type { EventEnvelope } from '../types.js';
import type { NotificationView } from './notification-panel.js';

/**
 * A toast for a notification: the notification's own title (the server's one table of titles, the
 * one the panel shows too) behind an icon for its kind. The notification decides whether there is
 * a toast at all (it is `silent` when the user muted its type); the event it came from, which
 * precedes it in the log, tells which way money moved (`related`: the latest event of that type
 * for that booking).
 */
export function toastText(n: NotificationView, related?: EventEnvelope): { title: string; body: string; kind: 'info' | 'success' } {
  const d = (related?.data ?? (n.data as object | null) ?? {}) as { status?: string };
  const [icon, kind] = iconOf(n.type, d.status);
  return { title: `${icon} ${n.title}`, body: n.body, kind };
}

const GOOD_PAYMENT = new Set(['ESCROW', 'RELEASED']);

function iconOf(type: string, status: string | undefined): [string, 'info' | 'success'] {
  switch (type) {
    case 'booking.created':
      return ['📥', 'info'];
    case 'booking.accepted':
      return ['🎉', 'success'];
    case 'booking.rejected':
      return ['🙁', 'info'];
    case 'booking.started':
      return ['🛠️', 'info'];
    case 'booking.completed':
      return ['🏁', 'success'];
    case 'booking.cancelled':
      return ['🚫', 'info'];
    case 'booking.completion_confirmed':
      return ['👍', 'success'];
    case 'booking.expired':
      return ['⌛', 'info'];
    case 'booking.request_reminder':
    case 'booking.reminder':
      return ['⏰', 'info'];
    case 'payment.status_changed':
      return status && GOOD_PAYMENT.has(status) ? ['💰', 'success'] : status === 'REFUNDED' ? ['↩️', 'info'] : ['⚠️', 'info'];
    case 'payout.status_changed':
      return status === 'COMPLETED' ? ['✅', 'success'] : status === 'PROCESSING' ? ['🏦', 'info'] : ['⚠️', 'info'];
    case 'payment.dispute_opened':
    case 'payment.dispute_resolved':
      return ['⚖️', 'info'];
    case 'announcement':
      return ['📣', 'info'];
    default:
      return ['🔔', 'info'];
  }
}

/** The key under which an event is remembered for the notification that follows it. */
export function relatedKey(type: string, data: unknown): string | undefined {
  const p = (data ?? {}) as { bookingId?: unknown; booking?: { id?: unknown } };
  const bookingId = p.bookingId ?? p.booking?.id;
  return typeof bookingId === 'string' || typeof bookingId === 'number' ? `${type}:${bookingId}` : undefined;
}
