import type { Knex } from 'knex';
import { cancelledBy } from './cancelled-by';
import type { Principal } from '../auth/principal';
import { bookingAudience, userChannel } from '../events/audience';
import type { Emit, EventPublisher } from '../events/event-publisher';
import { AppError } from '../errors/app-error';
import { pageOf } from '../storage/paging';
import { findUser } from '../users/user-repository';
import { holdForClientDispute, lockPaymentByBooking } from '../payments/payment-repository';
import { movePayment, releaseEscrow } from '../payments/escrow';
import type { BookingPayments, PaymentInit } from '../payments/payment-service';
import { runFollowUp, type FollowUp } from '../payments/paystack-follow-ups';
import {
  findBookingView,
  findEscrowDueBy,
  insertBooking,
  markReleaseReminded,
  listBookingViews,
  lockAndCountPending,
  lockBooking,
  updateBookingStatus,
  type BookingRow,
} from './booking-repository';
import type { BookingView, CreateBookingRequest, ListBookingsQuery } from './booking-schemas';
import { bookingViewFor } from './booking-views';
import { insertTimers } from './booking-timer-repository';
import { timersOnAccept, timersOnRequest } from './booking-timers';
import { autoReleaseAt, canViewBooking, decideBookingAction, earliestStart, type BookingAction } from './booking-state';
import type { BookingStatus } from '../contract/vocabulary';

const parties = (b: BookingRow) => ({ clientId: b.client_id, providerId: b.provider_id, bookingId: String(b.id) });

/** The marketplace's rules for bookings, from the validated configuration. */
export interface BookingRules {
  feeBps: number;
  autoReleaseHours: number;
  startEarlyMinutes: number;
  /** Currencies a booking may be in: those payouts can be made in. */
  currencies: readonly string[];
  /** MAX_PENDING_BOOKINGS_PER_PAIR: unanswered requests one client may have with one provider. */
  maxPendingPerPair: number;
  /** BOOKING_REQUEST_TTL_HOURS: a request unanswered this long (or by its own time) expires. */
  requestTtlHours: number;
}

/** Where a booking's state changes: every move goes through `act`, under a row lock. */
export class BookingService {
  constructor(
    private readonly knex: Knex,
    private readonly publisher: EventPublisher,
    private readonly payments: BookingPayments,
    private readonly rules: BookingRules,
  ) {}

  async create(p: Principal, req: CreateBookingRequest): Promise<BookingView> {
    if (p.role !== 'client') throw new AppError('FORBIDDEN', 'Only clients can book');
    if (!this.rules.currencies.includes(req.currency)) {
      // A payout can only be made in these: money taken in another could never reach the provider.
      throw new AppError('VALIDATION_FAILED', `Bookings are in ${this.rules.currencies.join(', ')} only`, {
        issues: [{ path: 'currency', message: `must be one of ${this.rules.currencies.join(', ')}` }],
      });
    }
    const { result } = await this.publisher.transaction(async (trx, emit) => {
      const provider = await findUser(trx, req.providerId);
      if (!provider || provider.role !== 'provider') throw new AppError('PROVIDER_NOT_FOUND', 'No such provider');
      if ((await lockAndCountPending(trx, p.userId, provider.id)) >= this.rules.maxPendingPerPair) {
        throw new AppError('TOO_MANY_PENDING', 'You already have the most pending requests allowed with this provider', { max: this.rules.maxPendingPerPair });
      }
      const id = await insertBooking(trx, {
        client_id: p.userId,
        provider_id: provider.id,
        service: req.service,
        scheduled_for: new Date(req.scheduledFor),
        amount: req.amount,
        currency: req.currency,
        notes: req.notes ?? null,
      });
      const view = (await findBookingView(trx, id))!;
      await insertTimers(trx, id, timersOnRequest(new Date(view.createdAt), new Date(view.scheduledFor), this.rules.requestTtlHours));
      emitBookingEvent(emit, 'booking.created', view, null);
      return view;
    });
    return result;
  }

  /** POST /api/bookings/:id/payment: only the booking's client pays, through payments' checkout. */
  async checkout(p: Principal, id: string, email: string | undefined): Promise<PaymentInit> {
    const view = await this.get(p, id);
    if (view.clientId !== p.userId) throw new AppError('FORBIDDEN', 'Only the booking’s client can pay');
    return this.payments.initialize(p, view, email);
  }

  async get(p: Principal, id: string): Promise<BookingView> {
    const view = await findBookingView(this.knex, id);
    if (!view || !canViewBooking(view, p)) throw new AppError('NOT_FOUND', 'Booking not found');
    return view;
  }

  async list(p: Principal, q: ListBookingsQuery): Promise<{ bookings: BookingView[]; nextCursor: string | null }> {
    const rows = await listBookingViews(this.knex, {
      userId: p.role === 'admin' ? undefined : p.userId,
      status: q.status,
      before: q.cursor,
      limit: q.limit + 1,
    });
    const { items, nextCursor } = pageOf(rows, q.limit);
    return { bookings: items, nextCursor };
  }

  async act(p: Principal, id: string, action: BookingAction, reason?: string): Promise<BookingView> {
    const { result } = await this.publisher.transaction(async (trx, emit) => {
      const row = await lockBooking(trx, id);
      if (!row || !canViewBooking({ clientId: row.client_id, providerId: row.provider_id }, p)) {
        throw new AppError('NOT_FOUND', 'Booking not found');
      }
      const decision = decideBookingAction({ clientId: row.client_id, providerId: row.provider_id, status: row.status }, p, action);
      if (!decision.ok) {
        if (decision.error === 'REQUEST_EXPIRED') {
          throw new AppError('REQUEST_EXPIRED', `Cannot ${action} a request that expired unanswered`, { currentStatus: row.status });
        }
        if (decision.error === 'INVALID_TRANSITION') {
          throw new AppError('INVALID_TRANSITION', `Cannot ${action} a ${row.status} booking`, { currentStatus: row.status });
        }
        throw new AppError(decision.error === 'NOT_A_PARTY' ? 'NOT_FOUND' : 'FORBIDDEN', `You cannot ${action} this booking`);
      }
      if (action === 'start') {
        const earliest = earliestStart(new Date(row.scheduled_for), Date.now(), this.rules.startEarlyMinutes);
        if (earliest) throw new AppError('TOO_EARLY', `Work can start from ${earliest.toISOString()}`, { earliestStart: earliest.toISOString() });
      }
      const money = await this.moneyFor(trx, emit, row, action, reason);
      // A repeated dispute: already held, nothing changes and nobody is told twice.
      if (money === 'unchanged') return { view: (await findBookingView(trx, id))!, followUp: undefined };
      if (decision.to !== row.status) await updateBookingStatus(trx, id, decision.to, reason);
      const view = (await findBookingView(trx, id))!;
      if (action === 'accept') await insertTimers(trx, id, timersOnAccept(new Date(view.updatedAt), new Date(view.scheduledFor)));
      if (decision.event) emitBookingEvent(emit, decision.event, view, row.status, this.eventExtra(action, view, reason, p));
      return { view, followUp: money };
    });
    // Paystack is called only after the commit: never hold a transaction (on PGlite, the only
    // connection) across a network call.
    if (result.followUp) {
      await runFollowUp(this.payments, result.followUp);
      return (await findBookingView(this.knex, id))!;
    }
    return result.view;
  }

  /** What a booking event carries beyond the booking: whether a release was automatic, when it will be, why it is held, who cancelled. */
  private eventExtra(action: BookingAction, view: BookingView, reason: string | undefined, p: Principal): Record<string, unknown> {
    if (action === 'confirm-completion') return { auto: false };
    if (action === 'cancel') return { cancelledBy: cancelledBy(p, view) };
    if (action === 'complete') {
      return { autoReleaseAt: autoReleaseAt(new Date(), new Date(view.scheduledFor), this.rules.autoReleaseHours).toISOString() };
    }
    if (action === 'dispute') return { reason };
    return {};
  }

  /**
   * The client is told a day before escrow releases by itself, once, so that work not done can
   * still be disputed. Runs with auto-release; `now` is a parameter so tests can move the clock.
   */
  async remindBeforeRelease(hours: number, now = Date.now()): Promise<number> {
    const due = await findEscrowDueBy(this.knex, hours - 24, new Date(now), { unreminded: true, limit: 100 });
    let reminded = 0;
    for (const id of due) {
      await this.publisher.transaction(async (trx, emit) => {
        if (!(await markReleaseReminded(trx, id))) return;
        const row = (await lockBooking(trx, id))!;
        const at = autoReleaseAt(new Date(row.completed_at ?? row.updated_at), new Date(row.scheduled_for), hours);
        emit({
          type: 'booking.release_reminder',
          audience: [userChannel(row.client_id)],
          payload: { bookingId: String(row.id), autoReleaseAt: at.toISOString(), amount: Number(row.amount), currency: row.currency },
        });
        reminded++;
      });
    }
    return reminded;
  }

  /**
   * Escrow is released by itself once a booking has been COMPLETED for `hours` (counted from the
   * later of completion and its scheduled time) without the client confirming or disputing: as if
   * they had confirmed, and both sides are told. `now` is a parameter so tests can move the clock.
   */
  async autoRelease(hours: number, now = Date.now()): Promise<number> {
    const due = await findEscrowDueBy(this.knex, hours, new Date(now), { limit: 100 });
    let released = 0;
    for (const id of due) {
      const { result: followUp } = await this.publisher.transaction(async (trx, emit): Promise<FollowUp | null> => {
        const row = await lockBooking(trx, id);
        const payment = await lockPaymentByBooking(trx, id);
        // Re-checked under the locks: the client may have confirmed or disputed meanwhile.
        if (
          !row ||
          row.status !== 'COMPLETED' ||
          payment?.status !== 'ESCROW' ||
          payment.disputed_at ||
          payment.client_disputed_at ||
          autoReleaseAt(new Date(row.completed_at ?? row.updated_at), new Date(row.scheduled_for), hours).getTime() >= now
        ) {
          return null;
        }
        const payout = await releaseEscrow(trx, emit, payment, parties(row), this.rules.feeBps);
        emitBookingEvent(emit, 'booking.completion_confirmed', (await findBookingView(trx, String(id)))!, row.status, { auto: true });
        return { kind: 'transfer', payoutId: payout.id };
      });
      if (followUp) {
        released++;
        await runFollowUp(this.payments, followUp);
      }
    }
    return released;
  }

  /** The money side of a move, inside its transaction; returns the Paystack call to make after commit. */
  private async moneyFor(
    trx: Knex.Transaction,
    emit: Emit,
    row: BookingRow,
    action: BookingAction,
    reason: string | undefined,
  ): Promise<FollowUp | undefined | 'unchanged'> {
    const payment = await lockPaymentByBooking(trx, String(row.id));
    switch (action) {
      case 'dispute':
        if (payment?.status !== 'ESCROW') {
          throw new AppError('INVALID_TRANSITION', 'Only money held in escrow can be disputed', {
            currentStatus: row.status,
            paymentStatus: payment?.status ?? null,
          });
        }
        if (payment.client_disputed_at) return 'unchanged';
        await holdForClientDispute(trx, payment.id, reason!);
        return undefined;
      case 'start':
        if (payment?.status !== 'ESCROW') {
          throw new AppError('PAYMENT_REQUIRED', 'Work can start once the payment is in escrow', {
            paymentStatus: payment?.status ?? null,
          });
        }
        return undefined;
      case 'confirm-completion': {
        if (payment?.status !== 'ESCROW') {
          throw new AppError('INVALID_TRANSITION', 'Nothing in escrow to release', {
            currentStatus: row.status,
            paymentStatus: payment?.status ?? null,
          });
        }
        const payout = await releaseEscrow(trx, emit, payment, parties(row), this.rules.feeBps);
        return { kind: 'transfer', payoutId: payout.id };
      }
      case 'cancel':
        // The customer's bank decides an open card dispute; a refund now could pay the client twice.
        if (payment?.disputed_at) throw new AppError('DISPUTE_OPEN', 'A card dispute about this payment is open; it must be resolved first');
        if (payment && (payment.status === 'PAID' || payment.status === 'ESCROW')) {
          await movePayment(trx, emit, payment, parties(row), 'REFUND_PENDING');
          return { kind: 'refund', paymentId: payment.id };
        }
        return undefined;
      default:
        return undefined;
    }
  }
}

export function emitBookingEvent(
  emit: Emit,
  type: string,
  booking: BookingView,
  previousStatus: BookingStatus | null,
  extra: Record<string, unknown> = {},
): void {
  emit({
    type,
    audience: bookingAudience(type, booking.clientId, booking.providerId),
    payload: { booking: bookingViewFor(booking, 'parties'), previousStatus, status: booking.status, ...extra },
  });
}
