// The same format as the server's notifications: one function for both.
export { formatMoney } from '../../contract/money.js';

/**
 * Times are said in the marketplace's zone (GET /api/settings, set once at start), as the server's
 * notifications say them, so a card and a toast about one booking never disagree. A browser in
 * another zone sees the zone's name after a time, so it is not taken for local time.
 */
let zone = 'Africa/Johannesburg';
let dateTime = formatter({ dateStyle: 'medium', timeStyle: 'short' });
let timeOnly = formatter({ timeStyle: 'short' });
let dayOf = formatter({ dateStyle: 'short' });
let zoneNote = '';

function formatter(o: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat('en-ZA', { ...o, timeZone: zone });
}

export function setTimeZone(timeZone: string): void {
  try {
    new Intl.DateTimeFormat('en-ZA', { timeZone });
  } catch {
    return; // a zone this browser does not know: keep the default rather than break every page
  }
  zone = timeZone;
  dateTime = formatter({ dateStyle: 'medium', timeStyle: 'short' });
  timeOnly = formatter({ timeStyle: 'short' });
  dayOf = formatter({ dateStyle: 'short' });
  const local = Intl.DateTimeFormat().resolvedOptions().timeZone;
  zoneNote = local === zone ? '' : ` (${zone.split('/').pop()!.replace(/_/g, ' ')} time)`;
}

/** The date and time in the marketplace's zone, with the zone's name when the browser is elsewhere. */
export function formatWhen(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${dateTime.format(d)}${zoneNote}`;
}

/** "just now", "5 min ago", or the time (today, in the marketplace's zone) or date and time (before). */
export function formatAgo(iso: string, now = Date.now()): string {
  const d = new Date(iso);
  const s = Math.round((now - d.getTime()) / 1000);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return dayOf.format(new Date(now)) === dayOf.format(d) ? `${timeOnly.format(d)}${zoneNote}` : formatWhen(iso);
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

/** The marketplace zone's wall-clock parts of an instant. */
function wallParts(d: Date): Record<string, number> {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(d);
  return Object.fromEntries(parts.filter((p) => p.type !== 'literal').map((p) => [p.type, Number(p.value)]));
}

/** A datetime-local input's value for an instant, as a clock in the marketplace's zone reads it. */
export function toZoneInput(d: Date): string {
  const p = wallParts(d);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${p.year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}`;
}

/** The instant a datetime-local value names in the marketplace's zone (not the browser's). */
export function fromZoneInput(value: string): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(value);
  if (!m) return new Date(NaN);
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  // The zone's offset at that moment, found from a first guess and checked once (DST edges).
  let at = wall;
  for (let i = 0; i < 2; i++) {
    const p = wallParts(new Date(at));
    at = wall - (Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - at);
  }
  return new Date(at);
}

/** How the marketplace's zone is named next to a time a person types. */
export const zoneName = (): string => zone.split('/').pop()!.replace(/_/g, ' ');
