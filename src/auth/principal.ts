import { z } from 'zod';
import { Role, UserId } from '../contract/vocabulary';

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
