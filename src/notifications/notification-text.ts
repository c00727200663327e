import { formatMoney } from '../contract/money';

/** Who reads: one of the booking's parties, or the operators (`role:admin`). */
export type Side = 'client' | 'provider' | 'admin';

export interface NotificationText {
  title: string;
  body: string;
}

/**
 * The fields of events' data (src/contract/events.ts) that the texts read. Each event type's data
 * has some of them; every one is optional so that one shape reads them all.
 */
export interface TextPayload {
  booking?: { scheduledFor?: string; amount?: number; currency?: string; reason?: string | null };
  status?: string;
  cancelledBy?: string;
  auto?: boolean;
  merchantWon?: boolean;
  amount?: number;
  chargeAmount?: number;
  heldAmount?: number;
  refundAmount?: number;
  currency?: string;
  reason?: string;
  resolution?: string | null;
  action?: string;
  autoReleaseAt?: string;
  scheduledFor?: string;
  expiresAt?: string;
  hoursBefore?: number;
  item?: { reason?: string; amount?: number; currency?: string };
}

export interface EventFacts {
  type: string;
  payload: TextPayload;
  /** The booking's parties and their display names, when the event concerns a booking. */
  booking?: { id: string; clientId: string; providerId: string; clientName: string; providerName: string; service: string };
}

/** The marketplace's zone when none is given (config's MARKETPLACE_TIME_ZONE default). */
export const DEFAULT_TIME_ZONE = 'Africa/Johannesburg';

const formatIn = (iso: string | undefined, timeZone: string) =>
  iso ? new Date(iso).toLocaleString('en-ZA', { dateStyle: 'medium', timeStyle: 'short', timeZone }) : '';

/**
 * What each side reads for an event, or null when that side is not told. Human text lives here
 * and nowhere else; every other module deals in types and ids. The title is the one table of
 * titles: the dashboards' toasts and notification panel both show it as it is.
 */
export function notificationText(e: EventFacts, side: Side, timeZone = DEFAULT_TIME_ZONE): NotificationText | null {
  const when = (iso: string | undefined) => formatIn(iso, timeZone);
  const p = e.payload;
  const b = e.booking;
  const money = (cents: number | undefined, currency: string | undefined) => formatMoney(Number(cents), currency ?? 'ZAR');
  if (side === 'admin') return adminText(e, money);
  switch (e.type) {
    case 'booking.created':
      return side === 'provider' && b
        ? {
            title: `New booking request from ${b.clientName}`,
            body: `${b.service} on ${when(p.booking?.scheduledFor)}, ${money(p.booking?.amount, p.booking?.currency)}`,
          }
        : null;
    case 'booking.accepted':
      return side === 'client' && b
        ? { title: 'Your booking has been accepted!', body: `${b.providerName} will do your ${b.service}. You can pay now.` }
        : null;
    case 'booking.rejected':
      return side === 'client' && b
        ? { title: 'Your booking was declined', body: `${b.providerName} cannot take this ${b.service}${p.booking?.reason ? `: ${p.booking.reason}` : '.'}` }
        : null;
    case 'booking.started':
      return side === 'client' && b ? { title: 'Work has started', body: `${b.providerName} has started your ${b.service}.` } : null;
    case 'booking.completed':
      return side === 'client' && b
        ? { title: 'Work is complete', body: `${b.providerName} has finished your ${b.service}. Please confirm so they can be paid.` }
        : null;
    case 'booking.cancelled': {
      if (!b) return null;
      const by =
        p.cancelledBy === side
          ? 'You'
          : p.cancelledBy === 'client'
            ? b.clientName
            : p.cancelledBy === 'provider'
              ? b.providerName
              : p.cancelledBy === 'operator'
                ? 'Our team'
                : null;
      const why = p.booking?.reason ? ` Reason: “${String(p.booking.reason)}”` : '';
      // The other side's name once: "Naledi cancelled the tiling booking", not "… from Naledi".
      const byOtherSide = p.cancelledBy === 'client' || p.cancelledBy === 'provider' ? p.cancelledBy !== side : false;
      const booking = `the ${b.service} booking${byOtherSide ? '' : side === 'client' ? ` with ${b.providerName}` : ` from ${b.clientName}`}`;
      return {
        title: 'Booking cancelled',
        body: by ? `${by} cancelled ${booking}.${why}` : `${booking[0].toUpperCase()}${booking.slice(1)} was cancelled.${why}`,
      };
    }
    case 'booking.completion_confirmed':
      return p.auto === true && b
        ? side === 'client'
          ? { title: 'Payment released automatically', body: `You did not confirm the ${b.service} in time, so the payment was released to ${b.providerName}.` }
          : {
              title: 'Completion confirmed automatically',
              body: `The ${b.service} for ${b.clientName} was confirmed automatically; your payout is on its way.`,
            }
        : null;
    case 'payment.dispute_opened':
      return b
        ? side === 'client'
          ? { title: 'Your card dispute is open', body: `The ${money(p.amount, p.currency)} payment for ${b.service} is on hold while it is resolved.` }
          : { title: 'A payment is disputed', body: `The client's bank disputed ${money(p.amount, p.currency)} for ${b.service}; your payout is on hold.` }
        : null;
    case 'payment.dispute_resolved':
      return b
        ? p.merchantWon
          ? {
              title: 'Dispute resolved',
              body:
                side === 'provider'
                  ? 'The dispute was resolved in your favour; your payout continues.'
                  : `The dispute about ${b.service} was resolved in the provider's favour.`,
            }
          : disputeLostText(side, money(p.refundAmount ?? p.amount, p.currency), b.service, Number(p.refundAmount ?? p.amount) < Number(p.amount))
        : null;
    case 'payment.partially_refunded':
      return b
        ? side === 'client'
          ? {
              title: 'Part of your payment came back',
              body: `${money(p.amount, p.currency)} of your ${money(p.chargeAmount, p.currency)} for ${b.service} came back to you; ${money(p.heldAmount, p.currency)} ${p.status === 'RELEASED' ? `goes to ${b.providerName}` : 'stays in escrow'}.`,
            }
          : {
              title: 'Part of a payment went back to the client',
              body: `${money(p.amount, p.currency)} of the ${money(p.chargeAmount, p.currency)} for ${b.service} went back to ${b.clientName}; your payout is made from the remaining ${money(p.heldAmount, p.currency)}.`,
            }
        : null;
    case 'payment.status_changed':
      return paymentText(p.status, side, money(p.amount, p.currency), b);
    case 'payout.status_changed':
      return side === 'provider' ? payoutText(p.status, money(p.amount, p.currency), p.reason) : null;
    case 'booking.disputed':
      return b
        ? side === 'client'
          ? {
              title: 'Your payment is on hold',
              body: `The ${money(p.booking?.amount, p.booking?.currency)} for ${b.service} stays in escrow until our team has looked at your dispute.`,
            }
          : {
              title: 'The client disputed the work',
              body: `${b.clientName} says the ${b.service} was not done as agreed${p.reason ? `: ${String(p.reason)}` : '.'} The payment is on hold until our team decides.`,
            }
        : null;
    case 'booking.release_reminder':
      return side === 'client' && b
        ? {
            title: 'Payment will be released tomorrow',
            body: `Unless you dispute it, ${money(p.amount, p.currency)} for ${b.service} goes to ${b.providerName} on ${when(p.autoReleaseAt)}.`,
          }
        : null;
    case 'booking.expired':
      return b
        ? side === 'client'
          ? {
              title: 'Your booking request expired',
              body: `${b.providerName} did not answer your ${b.service} request in time. You can book another provider.`,
            }
          : { title: 'A booking request expired', body: `${b.clientName}'s ${b.service} request for ${when(p.booking?.scheduledFor)} expired unanswered.` }
        : null;
    case 'booking.request_reminder':
      return side === 'provider' && b
        ? {
            title: `${b.clientName} is waiting for your answer`,
            body: `Accept or decline the ${b.service} request for ${when(p.scheduledFor)} by ${when(p.expiresAt)}, or it expires.`,
          }
        : null;
    case 'booking.reminder':
      return b
        ? {
            title: `${b.service[0].toUpperCase()}${b.service.slice(1)} ${Number(p.hoursBefore) === 1 ? 'in an hour' : `in ${Number(p.hoursBefore)} hours`}`,
            body: `Your ${b.service} ${side === 'client' ? `with ${b.providerName}` : `for ${b.clientName}`} is on ${when(p.scheduledFor)}.`,
          }
        : null;
    case 'booking.admin_action':
      return b
        ? {
            title: 'Our team has decided',
            body: adminActionText(String(p.action), side, money(p.refundAmount ?? p.amount, p.currency), b.service, String(p.reason)),
          }
        : null;
    case 'payment.refund_failing':
      return side === 'client' && b
        ? {
            title: 'Your refund is delayed',
            body: `The refund of ${money(p.amount, p.currency)} for ${b.service} did not go through yet. Our team has been told.`,
          }
        : null;
    default:
      return null;
  }
}

/** The operators' words for each reason money waits for them (payments/attention.ts). */
const ATTENTION_TITLES: Record<string, string> = {
  FLAGGED: 'charge does not match the booking',
  REFUND_FAILING: 'refund failing',
  CLIENT_DISPUTE: 'client disputes the work',
  CARD_DISPUTE: 'card dispute open for long',
  PAYOUT_FAILED: 'payout failed',
  PAYOUT_REVERSED: 'payout reversed',
  OTP_REQUIRED: 'transfers need an OTP (turn OTP off in Paystack)',
  STALLED_WORK: 'escrow held, work not done past its time',
  CHARGEBACK_LOSS: 'card dispute lost after the payout went out',
  NEGATIVE_MARGIN: 'Paystack kept more than the platform fee',
};

/** What the operators read: only events that need a person, each naming its booking. */
function adminText(e: EventFacts, money: (cents: number | undefined, currency: string | undefined) => string): NotificationText | null {
  const p = e.payload;
  const about = e.booking ? `booking #${e.booking.id} (${e.booking.service}, ${e.booking.clientName} → ${e.booking.providerName})` : 'a booking';
  switch (e.type) {
    case 'payment.dispute_opened':
      return { title: 'Card dispute opened', body: `${money(p.amount, p.currency)} on ${about} is disputed; its payout is frozen.` };
    case 'payment.dispute_resolved':
      return { title: 'Card dispute resolved', body: `The dispute on ${about} was resolved (${String(p.resolution ?? 'unknown')}).` };
    case 'ops.attention':
      return {
        title: `Needs attention: ${ATTENTION_TITLES[String(p.item?.reason)] ?? String(p.item?.reason)}`,
        body: `${money(p.item?.amount, p.item?.currency)} on ${about}.`,
      };
    case 'booking.admin_action':
      return { title: `Operator action: ${String(p.action)}`, body: `On ${about}: ${String(p.reason)}` };
    default:
      return null;
  }
}

/** A card dispute the customer won: all of the payment back, or part of it (the payout is smaller then). */
function disputeLostText(side: Side, amount: string, service: string, partial: boolean): NotificationText {
  if (side === 'client') return { title: 'Dispute resolved', body: `Your ${amount} for ${service} is being returned.` };
  return {
    title: 'Dispute resolved',
    body: partial
      ? `The dispute about ${service} was resolved in the client's favour for ${amount}; your payout is smaller by that share.`
      : `The dispute about ${service} was resolved in the client's favour; no payout will be made.`,
  };
}

function adminActionText(action: string, side: Side, amount: string, service: string, reason: string): string {
  const what =
    action === 'release'
      ? side === 'provider'
        ? `${amount} for ${service} is released to you`
        : `${amount} for ${service} is released to the provider`
      : action === 'refund'
        ? side === 'client'
          ? `${amount} for ${service} is being refunded to you`
          : `${amount} for ${service} is being refunded to the client`
        : action === 'accept-flagged'
          ? `the payment of ${amount} for ${service} is accepted and held in escrow`
          : `the refund of ${amount} for ${service} is being tried again`;
  return `${what[0].toUpperCase()}${what.slice(1)}. Reason: ${reason}`;
}

function paymentText(status: string | undefined, side: Side, amount: string, b: EventFacts['booking']): NotificationText | null {
  const what = b ? ` for ${b.service}` : '';
  switch (status) {
    case 'ESCROW':
      return side === 'client'
        ? { title: 'Payment received and held in escrow', body: `Your payment of ${amount}${what} is held safely until the work is done.` }
        : { title: 'Payment received and held in escrow', body: `${amount}${what} is secured in escrow. You can start the work.` };
    case 'RELEASED':
      // The provider hears of the money when the payout is sent and when it arrives: a release is
      // not money in their account yet, and a third message about one payout is noise.
      return null;
    case 'REFUNDED':
      return side === 'client' ? { title: 'Refund processed', body: `Your refund of ${amount}${what} has been processed.` } : null;
    case 'FLAGGED':
      return side === 'client' ? { title: 'We could not confirm your payment', body: `Your payment of ${amount}${what} needs a check by our team.` } : null;
    default:
      return null;
  }
}

function payoutText(status: string | undefined, amount: string, reason: string | undefined): NotificationText | null {
  switch (status) {
    case 'PROCESSING':
      return { title: 'Payout sent', body: `Your payout of ${amount} is on its way to your bank account.` };
    case 'COMPLETED':
      return { title: `Payout arrived: ${amount}`, body: `${amount} has been paid to your bank account.` };
    case 'FAILED':
      return { title: 'Payout failed', body: `Your payout of ${amount} failed${reason ? ` (${String(reason)})` : ''}. Our team has been told.` };
    case 'REVERSED':
      return { title: 'Payout reversed', body: `Your payout of ${amount} was reversed by the bank.` };
    default:
      return null;
  }
}
