import { z } from 'zod';
import { Role, UserId } from '../contract/vocabulary';

const Text = { title: z.string().trim().min(1).max(200), body: z.string().trim().min(1).max(4000) };

/** Exactly one target: listed users, one role, or everyone. */
export const BroadcastRequest = z.union([
  z.strictObject({ ...Text, userIds: z.array(UserId).min(1).max(1000) }),
  z.strictObject({ ...Text, role: Role }),
  z.strictObject({ ...Text, all: z.literal(true) }),
]);
export type BroadcastRequest = z.infer<typeof BroadcastRequest>;
