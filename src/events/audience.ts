import type { Principal } from '../auth/principal';
import type { ChannelName } from './event-types';

export const userChannel = (userId: string): ChannelName => `user:${userId}` as ChannelName;
export const roleChannel = (role: Principal['role']): ChannelName => `role:${role}`;
export const ALL: ChannelName = 'all';

/**
 * The one rule for who may receive what: a session receives exactly the events addressed to one
 * of these channels. Live delivery joins these channels; replay and polling filter the log by them.
 */
export function channelsFor(p: Pick<Principal, 'userId' | 'role'>): ChannelName[] {
  return [userChannel(p.userId), roleChannel(p.role), ALL];
}

export function isAddressedTo(audience: readonly string[], channels: readonly string[]): boolean {
  return audience.some((c) => channels.includes(c));
}

/**
 * A booking's events go to its client and its provider; these go to the operators too, because a
 * person may have to act on them (each is also in the operators' queue or their inbox).
 */
export const ADMINS_HEAR: ReadonlySet<string> = new Set([
  'booking.disputed',
  'booking.admin_action',
  'payment.dispute_opened',
  'payment.dispute_resolved',
  'payment.refund_failing',
  'payment.chargeback_loss',
  'payment.partially_refunded',
]);

/** Who hears of a booking's event of this type: both parties, and admins for the types above. */
export function bookingAudience(type: string, clientId: string, providerId: string): ChannelName[] {
  return [userChannel(clientId), userChannel(providerId), ...(ADMINS_HEAR.has(type) ? [roleChannel('admin')] : [])];
}
