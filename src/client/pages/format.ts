// The same format as the server's notifications: one function for both.
export { formatMoney } from '../money.js';

const dateTime = new Intl.DateTimeFormat('en-ZA', { dateStyle: 'medium', timeStyle: 'short' });
const timeOnly = new Intl.DateTimeFormat('en-ZA', { timeStyle: 'short' });

export function formatWhen(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateTime.format(d);
}

/** "just now", "5 min ago", or the time (today) or date and time (before). */
export function formatAgo(iso: string, now = Date.now()): string {
  const d = new Date(iso);
  const s = Math.round((now - d.getTime()) / 1000);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return new Date(now).toDateString() === d.toDateString() ? timeOnly.format(d) : dateTime.format(d);
}

const LABELS: Record<string, string> = {
  PENDING: 'Pending',
  CONFIRMED: 'Confirmed',
  IN_PROGRESS: 'In progress',
  COMPLETED: 'Completed',
  REJECTED: 'Declined',
  CANCELLED: 'Cancelled',
  PAID: 'Paid',
  ESCROW: 'In escrow',
  RELEASED: 'Released',
  FAILED: 'Failed',
  FLAGGED: 'Under review',
  REFUND_PENDING: 'Refund pending',
  REFUNDED: 'Refunded',
  EXPIRED: 'Checkout expired',
  PROCESSING: 'Processing',
  REVERSED: 'Reversed',
};

export const statusLabel = (status: string): string => LABELS[status] ?? status;

/** A booking's own status; EXPIRED means its request went unanswered (a payment's is its checkout). */
export const bookingStatusLabel = (status: string): string => (status === 'EXPIRED' ? 'Expired unanswered' : statusLabel(status));

export const capitalise = (s: string): string => (s ? s[0].toUpperCase() + s.slice(1) : s);
