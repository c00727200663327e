import { z } from 'zod';
import { EVENT_TYPES } from '../contract/event-names';

/**
 * The event types a client asked for (`types=booking.*,payment.status_changed`), as the set of
 * type names they stand for. A prefix (`booking.*`) is expanded against the types the server sends
 * (the list shared with the browser client), so polls, replays and live delivery all test one
 * set, and the log is read with a plain `type = ANY(...)`. A name or prefix that matches no type
 * the server sends is the client's mistake (a typo would otherwise wait forever): 400.
 */
export type TypeFilter = ReadonlySet<string>;

const KNOWN: readonly string[] = EVENT_TYPES;

/** Comma-separated; every entry an exact type or `<prefix>.*`. Absent means every type. */
export const TypesParam = z
  .string()
  .max(1_000)
  .transform((raw, ctx): TypeFilter => {
    const types = new Set<string>();
    for (const entry of raw.split(',')) {
      const wanted = entry.endsWith('.*') ? KNOWN.filter((t) => t.startsWith(entry.slice(0, -1))) : KNOWN.filter((t) => t === entry);
      if (wanted.length === 0) {
        ctx.addIssue({ code: 'custom', message: `unknown event type ${JSON.stringify(entry.slice(0, 70))}; known: ${KNOWN.join(', ')}` });
        return z.NEVER;
      }
      for (const t of wanted) types.add(t);
    }
    return types;
  });

/** Whether an event of this type passes the filter (no filter passes everything). */
export const passes = (filter: TypeFilter | undefined, type: string): boolean => filter === undefined || filter.has(type);
