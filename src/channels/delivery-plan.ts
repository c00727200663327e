import type { ContactRow, NewDelivery } from './delivery-repository';
import { stepsFor, type EscalationDelays } from './policies';
import type { DeliveryChannel } from '../contract/vocabulary';
import { afterQuietHours, DEFAULT_TIME_ZONE, type QuietHours } from './quiet-hours';

/** A personal notification as the dispatcher reads it from its `notification.created` event. */
export interface PlannedNotification {
  id: string;
  userId: string;
  type: string;
  /** Muted by its recipient: in the inbox, quietly, and nowhere else. */
  silent: boolean;
  notifiedAt: Date;
}

/** Whichever of WhatsApp and SMS the user allows for `type` (WhatsApp when both, or neither is chosen). */
export function textChannelOf(contact: ContactRow | undefined, type: string): 'whatsapp' | 'sms' {
  const chosen = contact?.channels?.[type];
  return chosen && !chosen.includes('whatsapp') && chosen.includes('sms') ? 'sms' : 'whatsapp';
}

export function quietHoursOf(contact: ContactRow | undefined): QuietHours | null {
  if (!contact || contact.quiet_start_min === null || contact.quiet_end_min === null) return null;
  return { startMin: contact.quiet_start_min, endMin: contact.quiet_end_min, timeZone: contact.time_zone ?? DEFAULT_TIME_ZONE };
}

function addressFor(channel: DeliveryChannel, n: PlannedNotification, contact: ContactRow | undefined): string | null {
  if (channel === 'email') return contact?.email ?? null;
  if (channel === 'push') return contact?.has_push ? n.userId : null;
  return contact?.phone ?? null;
}

const NO_ADDRESS: Record<DeliveryChannel, string> = {
  email: 'no email address',
  push: 'no push subscription',
  whatsapp: 'no phone number',
  sms: 'no phone number',
};

/**
 * Pure: the delivery rows for `notifications`, each queued for when its policy makes it due (held
 * past quiet hours unless urgent), or skipped with the reason a person can read in the app.
 */
export function planDeliveries(
  notifications: readonly PlannedNotification[],
  contacts: ReadonlyMap<string, ContactRow>,
  configured: ReadonlySet<DeliveryChannel>,
  delays: EscalationDelays,
): NewDelivery[] {
  const out: NewDelivery[] = [];
  for (const n of notifications) {
    const contact = contacts.get(n.userId);
    // A user the dispatcher does not know (deleted since) has no deliveries.
    if (!contact) continue;
    for (const step of stepsFor(n.type, n.notifiedAt, delays, textChannelOf(contact, n.type))) {
      const row = { notificationId: n.id, userId: n.userId, channel: step.channel, notifiedAt: n.notifiedAt, dueAt: step.dueAt };
      const skipped = (reason: string): NewDelivery => ({ ...row, status: 'skipped', reason, address: null });
      const chosen = contact.channels?.[n.type];
      const address = addressFor(step.channel, n, contact);
      if (n.silent || contact.muted_types?.includes(n.type)) out.push(skipped('muted'));
      else if (chosen && !chosen.includes(step.channel)) out.push(skipped('turned off in preferences'));
      else if (!configured.has(step.channel)) out.push(skipped(`${step.channel} is not configured on this server`));
      else if (!address) out.push(skipped(NO_ADDRESS[step.channel]));
      else {
        const dueAt = step.urgent ? step.dueAt : afterQuietHours(step.dueAt, quietHoursOf(contact));
        const held = dueAt.getTime() !== step.dueAt.getTime();
        out.push({ ...row, dueAt, status: 'queued', reason: held ? 'held until quiet hours end' : null, address });
      }
    }
  }
  return out;
}
