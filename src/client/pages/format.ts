/**
 * "R1,350.00" from 135000 cents, exactly as the server writes it in notifications
 * (src/notifications/money.ts; repeated here because the browser bundle is compiled on its own).
 */
export function formatMoney(cents: number, currency = 'ZAR'): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(Math.trunc(cents));
  const rands = Math.floor(abs / 100)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const prefix = currency === 'ZAR' ? 'R' : `${currency} `;
  return `${sign}${prefix}${rands}.${String(abs % 100).padStart(2, '0')}`;
}

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
  PROCESSING: 'Processing',
  REVERSED: 'Reversed',
};

export const statusLabel = (status: string): string => LABELS[status] ?? status;

export const capitalise = (s: string): string => (s ? s[0].toUpperCase() + s.slice(1) : s);
