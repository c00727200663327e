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
