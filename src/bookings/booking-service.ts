import type { Knex } from 'knex';
import type { Principal } from '../auth/principal';
import { userChannel } from '../events/audience';
import type { Emit, EventPublisher } from '../events/event-publisher';
import { AppError } from '../http/app-error';
import { pageOf } from '../storage/paging';
import { findUser } from '../users/user-repository';
import { lockPaymentByBooking } from '../payments/payment-repository';
import { movePayment, releaseEscrow } from '../payments/escrow';
import type { PaymentFollowUps } from '../payments/payment-service';
import {
  findBookingView,
  insertBooking,
  listBookingViews,
  lockAndCountPending,
  lockBooking,
  updateBookingStatus,
  type BookingRow,
} from './booking-repository';
import type { BookingView, CreateBookingRequest, ListBookingsQuery } from './booking-schemas';
import { bookingViewFor } from './booking-views';
import { canViewBooking, decideBookingAction, type BookingAction, type BookingStatus } from './booking-state';

const parties = (b: BookingRow) => ({ clientId: b.client_id, providerId: b.provider_id, bookingId: String(b.id) });

/** Where a booking's state changes: every move goes through `act`, under a row lock. */
export class BookingService {
  constructor(
    private readonly knex: Knex,
    private readonly publisher: EventPublisher,
    private readonly payments: PaymentFollowUps,
    private readonly feeBps: number,
    private readonly maxPendingPerPair = Infinity,
  ) {}

  async create(p: Principal, req: CreateBookingRequest): Promise<BookingView> {
    if (p.role !== 'client') throw new AppError('FORBIDDEN', 'Only clients can book');
    const { result } = await this.publisher.transaction(async (trx, emit) => {
      const provider = await findUser(trx, req.providerId);
      if (!provider || provider.role !== 'provider') throw new AppError('PROVIDER_NOT_FOUND', 'No such provider');
      if ((await lockAndCountPending(trx, p.userId, provider.id)) >= this.maxPendingPerPair) {
        throw new AppError('TOO_MANY_PENDING', 'You already have the most pending requests allowed with this provider', { max: this.maxPendingPerPair });
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
      emitBookingEvent(emit, 'booking.created', view, null);
      return view;
    });
    return result;
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
        if (decision.error === 'INVALID_TRANSITION') {
          throw new AppError('INVALID_TRANSITION', `Cannot ${action} a ${row.status} booking`, { currentStatus: row.status });
        }
        throw new AppError(decision.error === 'NOT_A_PARTY' ? 'NOT_FOUND' : 'FORBIDDEN', `You cannot ${action} this booking`);
      }
      const followUp = await this.moneyFor(trx, emit, row, action);
      if (decision.to !== row.status) await updateBookingStatus(trx, id, decision.to, reason);
      const view = (await findBookingView(trx, id))!;
      if (decision.event) emitBookingEvent(emit, decision.event, view, row.status, action === 'confirm-completion' ? { auto: false } : {});
      return { view, followUp };
    });
    // Paystack is called only after the commit: never hold a transaction (on PGlite, the only
    // connection) across a network call.
    if (result.followUp) {
      await result.followUp();
      return (await findBookingView(this.knex, id))!;
    }
    return result.view;
  }

  /**
   * Escrow is released by itself once a booking has been COMPLETED for `hours` without the
   * client confirming (or disputing): as if they had confirmed, and both sides are told.
   * `now` is a parameter so tests can move the clock.
   */
  async autoRelease(hours: number, now = Date.now()): Promise<number> {
    const cutoff = new Date(now - hours * 3_600_000);
    const due: Array<{ id: string }> = await this.knex('bookings as b')
      .join('payments as p', 'p.booking_id', 'b.id')
      .where({ 'b.status': 'COMPLETED', 'p.status': 'ESCROW' })
      .whereNull('p.disputed_at')
      .andWhere('b.updated_at', '<', cutoff)
      .select('b.id')
      .orderBy('b.id')
      .limit(100);
    let released = 0;
    for (const { id } of due) {
      const { result: payoutId } = await this.publisher.transaction(async (trx, emit) => {
        const row = await lockBooking(trx, String(id));
        const payment = await lockPaymentByBooking(trx, String(id));
        // Re-checked under the locks: the client may have confirmed or disputed meanwhile.
        if (!row || row.status !== 'COMPLETED' || payment?.status !== 'ESCROW' || payment.disputed_at || new Date(row.updated_at) >= cutoff) {
          return null;
        }
        const payout = await releaseEscrow(trx, emit, payment, parties(row), this.feeBps);
        emitBookingEvent(emit, 'booking.completion_confirmed', (await findBookingView(trx, String(id)))!, row.status, { auto: true });
        return payout.id;
      });
      if (payoutId) {
        released++;
        await this.payments.startTransfer(payoutId);
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
  ): Promise<(() => Promise<void>) | undefined> {
    const payment = await lockPaymentByBooking(trx, String(row.id));
    switch (action) {
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
        const payout = await releaseEscrow(trx, emit, payment, parties(row), this.feeBps);
        return () => this.payments.startTransfer(payout.id);
      }
      case 'cancel':
        if (payment && (payment.status === 'PAID' || payment.status === 'ESCROW')) {
          await movePayment(trx, emit, payment, parties(row), 'REFUND_PENDING');
          return () => this.payments.requestRefund(payment.id);
        }
        return undefined;
      default:
        return undefined;
    }
  }
}

function emitBookingEvent(
  emit: Emit,
  type: string,
  booking: BookingView,
  previousStatus: BookingStatus | null,
  extra: Record<string, unknown> = {},
): void {
  emit({
    type,
    audience: [userChannel(booking.clientId), userChannel(booking.providerId)],
    payload: { booking: bookingViewFor(booking, 'parties'), previousStatus, status: booking.status, ...extra },
  });
}
