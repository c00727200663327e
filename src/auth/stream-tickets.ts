import crypto from 'node:crypto';
import type { Db } from '../storage/db';
import { AppError } from '../errors/app-error';
import { type Principal } from './principal';
import { Role } from '../contract/vocabulary';
import { deleteTicketsExpiredBefore, insertTicket, lockUnexpiredTickets, useTicket } from './stream-ticket-repository';

/**
 * Single-use stream tickets: EventSource cannot send an Authorization header, and a JWT in a URL
 * would end up in proxy and access logs. A ticket is short-lived, useless after one use, and only
 * its hash is stored.
 */
export interface TicketStore {
  mint(p: Principal): Promise<{ ticket: string; expiresInMs: number }>;
  redeem(ticket: string): Promise<Principal>;
  pruneExpired(): Promise<number>;
}

const TICKET_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** Unexpired tickets (used or not) a user may hold: a reconnecting client needs a few, never more. */
export const MAX_UNEXPIRED_TICKETS_PER_USER = 20;

const hash = (ticket: string) => crypto.createHash('sha256').update(ticket).digest('hex');

export function createTicketStore(db: Db, ttlMs: number, now: () => number = Date.now): TicketStore {
  return {
    async mint(p) {
      const ticket = crypto.randomBytes(32).toString('base64url');
      return db.transaction(async (trx) => {
        const t = now();
        // Counted under a lock on the user's row, so racing mints cannot both see room for one more.
        const held = await lockUnexpiredTickets(trx, p.userId, new Date(t), MAX_UNEXPIRED_TICKETS_PER_USER);
        if (held.length >= MAX_UNEXPIRED_TICKETS_PER_USER) {
          const retryAfterMs = Math.max(0, new Date(held[0]).getTime() - t);
          throw new AppError('RATE_LIMITED', 'Too many stream tickets; use one or wait for one to expire', { retryAfterMs });
        }
        // A ticket never outlives the token that minted it.
        const expiresAt = new Date(Math.min(t + ttlMs, p.expiresAt.getTime()));
        await insertTicket(trx, { hash: hash(ticket), userId: p.userId, role: p.role, tokenExpiresAt: p.expiresAt, expiresAt });
        return { ticket, expiresInMs: expiresAt.getTime() - t };
      });
    },

    async redeem(ticket) {
      if (!TICKET_PATTERN.test(ticket)) throw new AppError('AUTH_INVALID', 'Ticket is invalid, used or expired');
      // One UPDATE decides: of two concurrent redeems exactly one sees `used_at IS NULL`.
      const row = await useTicket(db, hash(ticket), new Date(now()));
      if (!row) throw new AppError('AUTH_INVALID', 'Ticket is invalid, used or expired');
      return { userId: row.user_id, role: Role.parse(row.role), expiresAt: new Date(row.token_expires_at) };
    },

    async pruneExpired() {
      return deleteTicketsExpiredBefore(db, new Date(now() - 60_000));
    },
  };
}
