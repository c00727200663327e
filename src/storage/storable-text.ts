// PostgreSQL stores neither NUL (text and jsonb refuse it) nor an unpaired UTF-16 surrogate (jsonb
// refuses its \u escape; text would silently get U+FFFD): the database would answer with an error.
// eslint-disable-next-line no-control-regex -- NUL is the character looked for
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g');

/** Whether PostgreSQL would refuse this string (NUL, or an unpaired surrogate). */
export const isUnstorable = (s: string): boolean => UNSTORABLE.test(s);

/**
 * A parsed JSON value PostgreSQL can store: each unstorable character, in keys and values, becomes
 * U+FFFD. For input we must accept whatever it holds (a signed webhook), never for input we may
 * refuse (that is a 400: parseInput).
 */
export function toStorable(value: unknown): unknown {
  if (typeof value === 'string') return isUnstorable(value) ? value.replace(UNSTORABLE_ALL, '\ufffd') : value;
  if (Array.isArray(value)) return value.map(toStorable);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [toStorable(k) as string, toStorable(v)]));
  }
  return value;
}
