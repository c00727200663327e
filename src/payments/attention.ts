import type { Knex } from 'knex';
import { roleChannel } from '../events/audience';
import type { DeriveEvents, EventPublisher } from '../events/event-publisher';
import type { NewEvent } from '../events/event-types';
import { forgetEnded, listAttention, raiseNew, type AttentionQuery } from './attention-repository';
import { AttentionItem } from '../contract/views';
export { AttentionItem, AttentionReason } from '../contract/views';

/**
 * Money events that can open a case, after which the booking's cases are looked at in the same
 * transaction. Cases that end are forgotten by `sweep`; a charge settling into escrow, the
 * busiest money event, opens none and costs no query.
 */
function mayOpenCase(e: NewEvent): boolean {
  const p = (e.payload ?? {}) as { status?: unknown; reason?: unknown };
  switch (e.type) {
    case 'payment.status_changed':
      return p.status === 'FLAGGED' || p.status === 'RELEASED';
    case 'payout.status_changed':
      return p.status === 'FAILED' || p.status === 'REVERSED' || p.reason !== undefined;
    case 'payment.refund_failing':
    case 'payment.chargeback_loss':
    case 'booking.disputed':
      return true;
    default:
      return false;
  }
}

const bookingOf = (e: NewEvent): string | undefined => {
  const p = (e.payload ?? {}) as { bookingId?: unknown; booking?: { id?: unknown } };
  const id = p.bookingId ?? p.booking?.id;
  return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
};

/**
 * The operators' queue: every case in which money waits for a person (attention-repository.ts
 * says which), and the `ops.attention` event to role:admin when a case first appears. Cases that
 * follow a money event are raised in that event's own transaction (the publisher's derive hook),
 * so an operator hears at the moment a person is needed; cases that only time creates (a card
 * dispute open too long, work stalled past its time) are raised by `sweep`, a money job.
 */
export class AttentionQueue {
  constructor(
    private readonly knex: Knex,
    private readonly rules: Omit<AttentionQuery, 'now' | 'bookingIds'>,
  ) {}

  list(now = new Date()): Promise<AttentionItem[]> {
    return listAttention(this.knex, { ...this.rules, now });
  }

  /** The publisher's hook: `ops.attention` for each case the transaction's money events created. */
  async derive(trx: Knex.Transaction, events: readonly NewEvent[]): Promise<NewEvent[]> {
    const bookingIds = [...new Set(events.filter(mayOpenCase).map(bookingOf))].filter((id): id is string => !!id);
    if (!bookingIds.length) return [];
    const items = await listAttention(trx, { ...this.rules, now: new Date(), bookingIds });
    return (await raiseNew(trx, items)).map(toEvent);
  }

  /** Raises what time alone has made a case, and forgets cases that are over. Returns how many were raised. */
  async sweep(publisher: EventPublisher, now = new Date()): Promise<number> {
    const { result } = await publisher.transaction(async (trx, emit) => {
      const items = await listAttention(trx, { ...this.rules, now });
      await forgetEnded(trx, items);
      const fresh = await raiseNew(trx, items);
      fresh.map(toEvent).forEach(emit);
      return fresh.length;
    });
    return result;
  }
}

/**
 * The publisher's one derive hook: the operators' alerts that the events call for, then the
 * notifications of the events and of those alerts, all in the events' own transaction.
 */
export function deriveAlertsAndNotifications(attention: AttentionQueue, notificationsOf: DeriveEvents): DeriveEvents {
  return async (trx, events) => {
    const alerts = await attention.derive(trx, events);
    return [...alerts, ...(await notificationsOf(trx, alerts.length ? [...events, ...alerts] : events))];
  };
}

/** The queue's rules, from the validated configuration. */
export function attentionRules(config: { DISPUTE_ALERT_DAYS: number; STALLED_WORK_HOURS: number }): Omit<AttentionQuery, 'now' | 'bookingIds'> {
  return { disputeAlertDays: config.DISPUTE_ALERT_DAYS, stalledWorkHours: config.STALLED_WORK_HOURS };
}

function toEvent(item: AttentionItem): NewEvent {
  return { type: 'ops.attention', audience: [roleChannel('admin')], payload: { bookingId: item.bookingId, item } };
}
