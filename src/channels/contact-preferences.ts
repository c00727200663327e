import { z } from 'zod';
import type { ContactPreferencesView } from '../contract/views';
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { EventType } from '../events/event-types';
import { DeliveryChannel } from '../contract/vocabulary';
import { DEFAULT_TIME_ZONE, isTimeZone } from './quiet-hours';

/** A phone number in E.164; South African numbers written without +27 (082 555 1234) are taken as such. */
export const PhoneNumber = z
  .string()
  .max(32)
  .transform((raw, ctx) => {
    const parsed = parsePhoneNumberFromString(raw, 'ZA');
    if (!parsed?.isValid()) {
      ctx.addIssue({ code: 'custom', message: 'not a valid phone number (E.164, e.g. +27825551234, or a South African number)' });
      return z.NEVER;
    }
    return parsed.number;
  });

const ClockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM, 24-hour');
const minutesOf = (t: string) => Number(t.slice(0, 2)) * 60 + Number(t.slice(3, 5));
const clockOf = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

/**
 * What a user sets: the muted types as before (required, as they always were), and the rest
 * optional: a field left out stays as it is, so a client that knows only `mutedTypes` changes
 * nothing else; `null` clears it.
 */
export const ContactPreferencesInput = z.strictObject({
  mutedTypes: z.array(EventType).max(50),
  email: z.email().max(320).nullable().optional(),
  phone: PhoneNumber.nullable().optional(),
  timeZone: z.string().max(64).refine(isTimeZone, 'not a time zone this server knows (IANA, e.g. Africa/Johannesburg)').optional(),
  quietHours: z
    .strictObject({ start: ClockTime, end: ClockTime })
    .refine((q) => q.start !== q.end, 'start and end must differ')
    .nullable()
    .optional(),
  channels: z
    .record(EventType, z.array(DeliveryChannel).max(4))
    .refine((r) => Object.keys(r).length <= 50, 'at most 50 types')
    .optional(),
});
export type ContactPreferencesInput = z.infer<typeof ContactPreferencesInput>;

/** The preferences as the API shows them. */
export type { ContactPreferencesView } from '../contract/views';

export interface PreferenceRow {
  muted_types: string[] | null;
  email: string | null;
  profile_email: string | null;
  phone: string | null;
  time_zone: string | null;
  quiet_start_min: number | null;
  quiet_end_min: number | null;
  channels: Record<string, DeliveryChannel[]> | null;
}

export function toPreferencesView(r: PreferenceRow | undefined): ContactPreferencesView {
  return {
    mutedTypes: [...(r?.muted_types ?? [])].sort(),
    email: r?.email ?? null,
    effectiveEmail: r?.email ?? r?.profile_email ?? null,
    phone: r?.phone ?? null,
    timeZone: r?.time_zone ?? DEFAULT_TIME_ZONE,
    quietHours: r && r.quiet_start_min !== null && r.quiet_end_min !== null ? { start: clockOf(r.quiet_start_min), end: clockOf(r.quiet_end_min) } : null,
    channels: r?.channels ?? {},
  };
}

/** The columns an input changes: the muted types, and the other fields it names. */
export function toPreferenceColumns(p: ContactPreferencesInput): Record<string, unknown> {
  const cols: Record<string, unknown> = { muted_types: [...new Set(p.mutedTypes)].sort() };
  if (p.email !== undefined) cols.email = p.email;
  if (p.phone !== undefined) cols.phone = p.phone;
  if (p.timeZone !== undefined) cols.time_zone = p.timeZone;
  if (p.quietHours !== undefined) {
    cols.quiet_start_min = p.quietHours ? minutesOf(p.quietHours.start) : null;
    cols.quiet_end_min = p.quietHours ? minutesOf(p.quietHours.end) : null;
  }
  if (p.channels !== undefined) cols.channels = JSON.stringify(p.channels);
  return cols;
}
