import type { EventEnvelope } from '../types.js';
import type { NotificationView } from './notification-panel.js';
import { formatMoney } from './format.js';

/**
 * A toast's headline for a notification. The notification decides whether there is a toast at all
 * (it is `silent` when the user muted its type); the event it came from, which precedes it in the
 * log, supplies the figures (`related`: the latest event of that type for that booking).
 */
export function toastText(n: NotificationView, related?: EventEnvelope): { title: string; body: string; kind: 'info' | 'success' } {
  const d = (related?.data ?? {}) as { status?: string; amount?: number; currency?: string };
  const info = (title: string) => ({ title, body: n.body, kind: 'info' as const });
  const good = (title: string) => ({ title, body: n.body, kind: 'success' as const });
  switch (n.type) {
    case 'booking.created':
      return info(`📥 ${n.title}`);
    case 'booking.accepted':
      return good('🎉 Your booking has been accepted!');
    case 'booking.rejected':
      return info(`🙁 ${n.title}`);
    case 'booking.started':
      return info(`🛠️ ${n.title}`);
    case 'booking.completed':
      return good(`🏁 ${n.title}`);
    case 'booking.cancelled':
      return info(`🚫 ${n.title}`);
    case 'booking.completion_confirmed':
      return good(`👍 ${n.title}`);
    case 'booking.expired':
      return info(`⌛ ${n.title}`);
    case 'booking.request_reminder':
    case 'booking.reminder':
      return info(`⏰ ${n.title}`);
    case 'payment.status_changed':
      if (d.status === 'ESCROW') return good('💰 Payment received and held in escrow');
      if (d.status === 'RELEASED') return good(`💸 ${n.title}`);
      if (d.status === 'REFUNDED') return info(`↩️ ${n.title}`);
      return info(`⚠️ ${n.title}`);
    case 'payout.status_changed':
      if (d.status === 'COMPLETED' && typeof d.amount === 'number') {
        return good(`✅ ${formatMoney(d.amount, d.currency)} has been transferred to your account`);
      }
      if (d.status === 'PROCESSING') return info(`🏦 ${n.title}`);
      if (d.status === 'COMPLETED') return good(`✅ ${n.title}`);
      return info(`⚠️ ${n.title}`);
    case 'payment.dispute_opened':
    case 'payment.dispute_resolved':
      return info(`⚖️ ${n.title}`);
    case 'announcement':
      return info(`📣 ${n.title}`);
    default:
      return info(`🔔 ${n.title}`);
  }
}

/** The key under which an event is remembered for the notification that follows it. */
export function relatedKey(type: string, data: unknown): string | undefined {
  const p = (data ?? {}) as { bookingId?: unknown; booking?: { id?: unknown } };
  const bookingId = p.bookingId ?? p.booking?.id;
  return bookingId === undefined ? undefined : `${type}:${String(bookingId)}`;
}
