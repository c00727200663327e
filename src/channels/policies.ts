import { DeliveryChannel } from '../contract/vocabulary';

/** The channels beyond the tab. In-app (the inbox, the stream, the poll) always happens first. */
/**
 * How a type reaches someone who is not looking:
 * - `push: 'unseen'`: by push once unread for ESCALATE_PUSH_AFTER_S with no live stream open;
 * - `text: 'unseen'`: by WhatsApp (or SMS, if the user allows only SMS) once unread for
 *   ESCALATE_SMS_AFTER_S;
 * - `email: 'always'`: by email at once, read or not (receipts);
 * - `urgent`: sent during the recipient's quiet hours instead of held until they end.
 * A type that is not in the table stays in-app only.
 */
export interface Policy {
  push?: 'unseen';
  text?: 'unseen';
  email?: 'always';
  urgent?: boolean;
}

/** The one table of who gets what, when; read it against issue 20's "Who gets what, when". */
export const POLICIES: Readonly<Record<string, Policy>> = {
  // A provider's new booking request: in-app, then push, then WhatsApp/SMS while unread.
  'booking.created': { push: 'unseen', text: 'unseen' },
  'booking.accepted': { push: 'unseen', text: 'unseen' },
  'booking.rejected': { push: 'unseen' },
  // The other party may already be on the way.
  'booking.cancelled': { push: 'unseen', text: 'unseen', urgent: true },
  'booking.started': { push: 'unseen' },
  'booking.completed': { push: 'unseen' },
  'booking.disputed': { push: 'unseen', text: 'unseen' },
  'booking.release_reminder': { push: 'unseen', text: 'unseen' },
  // Time moves bookings: a request about to lapse, one that lapsed, and the visit ahead.
  'booking.request_reminder': { push: 'unseen', text: 'unseen' },
  'booking.expired': { push: 'unseen' },
  'booking.reminder': { push: 'unseen', text: 'unseen' },
  // Money moved: payment and payout receipts always by email.
  'payment.status_changed': { push: 'unseen', email: 'always' },
  'payout.status_changed': { push: 'unseen', email: 'always' },
  'booking.completion_confirmed': { push: 'unseen', email: 'always' },
  'booking.admin_action': { push: 'unseen', email: 'always' },
  'payment.refund_failing': { push: 'unseen', email: 'always' },
  'payment.dispute_opened': { push: 'unseen', text: 'unseen', email: 'always' },
  'payment.dispute_resolved': { push: 'unseen', email: 'always' },
  'payment.partially_refunded': { push: 'unseen', email: 'always' },
  'payment.chargeback_loss': { push: 'unseen', email: 'always' },
  // Announcements: in-app and push only.
  announcement: { push: 'unseen' },
};

export interface EscalationDelays {
  pushAfterS: number;
  textAfterS: number;
}

/** One channel a notification may go by, when, and whether reading it first cancels it. */
export interface Step {
  channel: DeliveryChannel;
  dueAt: Date;
  /** Cancelled if the notification is read before `dueAt` (and, for push, if a stream is open). */
  unseenOnly: boolean;
  urgent: boolean;
}

/**
 * The steps for a notification of `type` written at `notifiedAt`. `textChannel` is whichever of
 * WhatsApp and SMS the recipient takes texts by.
 */
export function stepsFor(type: string, notifiedAt: Date, delays: EscalationDelays, textChannel: 'whatsapp' | 'sms' = 'whatsapp'): Step[] {
  const p = POLICIES[type];
  if (!p) return [];
  const at = (s: number) => new Date(notifiedAt.getTime() + s * 1000);
  const urgent = p.urgent === true;
  const steps: Step[] = [];
  if (p.email === 'always') steps.push({ channel: 'email', dueAt: notifiedAt, unseenOnly: false, urgent });
  if (p.push === 'unseen') steps.push({ channel: 'push', dueAt: at(delays.pushAfterS), unseenOnly: true, urgent });
  if (p.text === 'unseen') steps.push({ channel: textChannel, dueAt: at(delays.textAfterS), unseenOnly: true, urgent });
  return steps;
}

/** Whether reading the notification before a delivery is due cancels it: every escalation does; email receipts go anyway. */
export const cancelledByReading = (channel: DeliveryChannel): boolean => channel !== 'email';
