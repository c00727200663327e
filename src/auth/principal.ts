import { z } from 'zod';

export const Role = z.enum(['client', 'provider', 'admin']);
export type Role = z.infer<typeof Role>;

// Ids are opaque strings from the identity provider; bounded so they are safe in channel names and logs.
export const UserId = z.string().min(1).max(128).regex(/^[A-Za-z0-9._:@-]+$/, 'invalid user id');

/** The claims we accept in a JWT; anything else in the token is ignored. */
export const TokenClaims = z.object({
  sub: UserId,
  role: Role,
  exp: z.number().int().positive(),
  iat: z.number().int().nonnegative().optional(),
  name: z.string().max(200).optional(),
  email: z.string().max(320).optional(),
});
export type TokenClaims = z.infer<typeof TokenClaims>;

/** Who is calling, as the domain sees it. `expiresAt` bounds how long a stream may stay open. */
export interface Principal {
  userId: string;
  role: Role;
  expiresAt: Date;
  name?: string;
  email?: string;
}
