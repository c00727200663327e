import type { Principal } from '../auth/principal';
import { AppError } from '../errors/app-error';
import { ALL, roleChannel, userChannel } from '../events/audience';
import type { EventPublisher } from '../events/event-publisher';
import type { ChannelName } from '../events/event-types';
import type { BroadcastRequest } from './broadcast-schemas';

export function assertCanBroadcast(p: Principal): void {
  if (p.role !== 'admin') throw new AppError('FORBIDDEN', 'Only admins can broadcast');
}

export function broadcastAudience(req: BroadcastRequest): ChannelName[] {
  if ('userIds' in req) return [...new Set(req.userIds)].map(userChannel);
  if ('role' in req) return [roleChannel(req.role)];
  return [ALL];
}

/** Publishes an `announcement`; recipients see the text, never who else received it. */
export async function sendBroadcast(publisher: EventPublisher, principal: Principal, req: BroadcastRequest): Promise<{ eventId: string }> {
  assertCanBroadcast(principal);
  const [event] = await publisher.publish([{ type: 'announcement', audience: broadcastAudience(req), payload: { title: req.title, body: req.body } }]);
  return { eventId: event.id };
}
