import { z } from 'zod';
import { Role, UserId } from '../contract/vocabulary';
import type { EventEnvelope } from '../contract/events';

/** A channel an event is addressed to: one user, everyone of a role, or everyone. */
export const ChannelName = z.union([z.templateLiteral(['user:', UserId]), z.templateLiteral(['role:', Role]), z.literal('all')]);
export type ChannelName = z.infer<typeof ChannelName>;

export const EventType = z
  .string()
  .regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/)
  .max(64);

export const NewEvent = z.object({
  type: EventType,
  audience: z.array(ChannelName).min(1),
  payload: z.unknown(),
});
export type NewEvent = z.infer<typeof NewEvent>;

/** A committed event as stored in the log. Ids are decimal strings: bigint-safe in JSON. */
export interface EventRecord {
  id: string;
  type: string;
  audience: ChannelName[];
  payload: unknown;
  occurredAt: Date;
}

export type { EventEnvelope } from '../contract/events';

export function toEnvelope(e: EventRecord): EventEnvelope {
  return { id: e.id, type: e.type, occurredAt: e.occurredAt.toISOString(), data: e.payload };
}
