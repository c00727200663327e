export const DEFAULT_TIME_ZONE = 'Africa/Johannesburg';

export interface QuietHours {
  /** Minutes after local midnight; start > end wraps past midnight (22:00–07:00). */
  startMin: number;
  endMin: number;
  timeZone: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function localMinutes(at: Date, timeZone: string): number {
  let f = formatters.get(timeZone);
  if (!f) formatters.set(timeZone, (f = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })));
  const parts = f.formatToParts(at);
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return get('hour') * 60 + get('minute');
}

/** True when `timeZone` is an IANA zone this runtime knows. */
export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/**
 * When a message due at `at` may go: `at` itself outside quiet hours, else the end of the quiet
 * period (the morning). Counted in local minutes from `at`, so a zone whose offset changes inside
 * the quiet period is off by that change, at most an hour.
 */
export function afterQuietHours(at: Date, q: QuietHours | null): Date {
  if (!q || q.startMin === q.endMin) return at;
  const now = localMinutes(at, q.timeZone);
  const inside = q.startMin < q.endMin ? now >= q.startMin && now < q.endMin : now >= q.startMin || now < q.endMin;
  if (!inside) return at;
  const wait = (q.endMin - now + 1440) % 1440;
  const morning = new Date(at.getTime() + wait * 60_000);
  morning.setUTCSeconds(0, 0);
  return morning;
}
