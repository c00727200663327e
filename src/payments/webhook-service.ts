import crypto from 'node:crypto';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { Emit, EventPublisher } from '../events/event-publisher';
import { AppError } from '../http/app-error';
import type { Logger } from '../logger';
import { lockBooking } from '../bookings/booking-repository';
import { movePayment } from './escrow';
import { findPaymentByReference, lockPayment, type PaymentRow } from './payment-repository';
import type { BookingRow } from '../bookings/booking-repository';
import { emitPayoutStatus } from './money-events';
import { lockPayoutByReference, setPayoutStatus } from './payout-repository';
import { canMovePayout, type PayoutStatus } from './payout-state';
import type { PaymentService } from './payment-service';
import type { PaystackClient, VerifiedTransaction } from './paystack-client';
import { isValidPaystackSignature } from './webhook-signature';

/** Paystack's envelope. `data` is read leniently: its fields vary by event and over time. */
const Envelope = z.object({ event: z.string().min(1).max(100), data: z.record(z.string(), z.unknown()) });
type Envelope = z.infer<typeof Envelope>;

export type WebhookOutcome =
  | 'processed'
  | 'duplicate'
  | 'no_change'
  | 'unknown_reference'
  | 'flagged'
  | 'ignored';

const TRANSFER_STATUS: Record<string, PayoutStatus> = {
  'transfer.success': 'COMPLETED',
  'transfer.failed': 'FAILED',
  'transfer.reversed': 'REVERSED',
};

const str = (v: unknown): string | undefined => (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined);

/** Paystack sends no event id, so the key is the event name plus the object's own identity. */
export function dedupeKey(e: Envelope, raw: Buffer): string {
  const d = e.data;
  if (e.event === 'charge.success') return `charge.success:${str(d.id) ?? str(d.reference)}`;
  if (e.event.startsWith('transfer.')) return `${e.event}:${str(d.transfer_code) ?? str(d.id) ?? str(d.reference)}`;
  if (e.event.startsWith('refund.')) return `${e.event}:${str(d.transaction_reference)}:${str(d.status)}`;
  if (e.event.startsWith('charge.dispute.')) return `${e.event}:${str(d.id)}:${str(d.status)}`;
  return `${e.event}:sha256:${crypto.createHash('sha256').update(raw).digest('hex')}`;
}

/**
 * POST /api/webhooks/paystack, after the raw bytes arrive: signature first (nothing is stored
 * without it), then one transaction that records the delivery, changes state and appends events,
 * so a redelivery finds its key and has no second effect.
 */
export class WebhookService {
  constructor(
    private readonly knex: Knex,
    private readonly publisher: EventPublisher,
    private readonly paystack: PaystackClient | null,
    private readonly secret: string | undefined,
    private readonly payments: PaymentService,
    private readonly logger: Logger,
  ) {}

  async receive(raw: Buffer, signature: string | undefined): Promise<WebhookOutcome> {
    if (!this.secret || !this.paystack) throw new AppError('WEBHOOK_NOT_CONFIGURED', 'Paystack is not configured');
    if (!isValidPaystackSignature(raw, signature, this.secret)) {
      throw new AppError('WEBHOOK_SIGNATURE_INVALID', 'Signature does not match');
    }
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new AppError('INVALID_JSON', 'Webhook body is not valid JSON');
    }
    const parsed = Envelope.safeParse(json);
    if (!parsed.success) throw new AppError('VALIDATION_FAILED', 'Not a Paystack event envelope');
    const envelope = parsed.data;
    const key = dedupeKey(envelope, raw);
    const log = this.logger.child({ webhook: envelope.event, dedupeKey: key });

    // Cheap early exit for redeliveries; the unique key below is what actually guarantees it.
    if (await this.knex('webhook_deliveries').where({ dedupe_key: key }).first()) return 'duplicate';

    // Paystack is asked before any transaction opens (never hold one across a network call).
    const verified = envelope.event === 'charge.success' ? await this.verifyCharge(envelope) : undefined;

    let followUp: (() => Promise<void>) | undefined;
    const { result } = await this.publisher.transaction(async (trx, emit) => {
      const inserted = await trx('webhook_deliveries')
        .insert({ dedupe_key: key, event: envelope.event, payload: JSON.stringify(json), outcome: 'received' })
        .onConflict('dedupe_key')
        .ignore()
        .returning('id');
      if (inserted.length === 0) return 'duplicate' as const;

      let outcome: WebhookOutcome = 'ignored';
      if (envelope.event === 'charge.success') {
        const r = await this.chargeSuccess(trx, emit, envelope, verified);
        outcome = r.outcome;
        followUp = r.followUp;
      } else if (TRANSFER_STATUS[envelope.event]) {
        outcome = await this.transferSettled(trx, emit, envelope, TRANSFER_STATUS[envelope.event]);
      } else if (envelope.event === 'refund.processed') {
        outcome = await this.refundProcessed(trx, emit, envelope);
      }
      await trx('webhook_deliveries').where({ dedupe_key: key }).update({ outcome });
      return outcome;
    });
    if (result === 'unknown_reference' || result === 'ignored') {
      log.warn({ code: result === 'ignored' ? 'WEBHOOK_EVENT_IGNORED' : 'WEBHOOK_UNKNOWN_REFERENCE' }, 'webhook recorded, nothing to do');
    } else {
      log.info({ outcome: result }, 'webhook processed');
    }
    if (followUp) await followUp();
    return result;
  }

  private async verifyCharge(e: Envelope): Promise<VerifiedTransaction | undefined> {
    const reference = str(e.data.reference);
    if (!reference || !(await findPaymentByReference(this.knex, reference))) return undefined;
    try {
      return await this.paystack!.verifyTransaction(reference);
    } catch (err) {
      // Not a 200: Paystack will redeliver, and nothing has been stored yet.
      this.logger.error({ code: 'PAYSTACK_VERIFY_FAILED', reference, err }, 'could not verify a charge');
      throw new AppError('PAYMENT_PROVIDER_UNAVAILABLE', 'Could not verify the charge with Paystack; retry later');
    }
  }

  private async chargeSuccess(
    trx: Knex.Transaction,
    emit: Emit,
    e: Envelope,
    verified: VerifiedTransaction | undefined,
  ): Promise<{ outcome: WebhookOutcome; followUp?: () => Promise<void> }> {
    const locked = await lockPaymentAndBooking(trx, str(e.data.reference));
    if (!locked || !verified) return { outcome: 'unknown_reference' };
    const { payment: found, booking } = locked;
    const parties = { clientId: booking.client_id, providerId: booking.provider_id };
    if (found.status !== 'PENDING') return { outcome: 'no_change' };

    const matches =
      verified.status === 'success' &&
      verified.reference === found.reference &&
      verified.amount === Number(found.amount) &&
      verified.currency === found.currency;
    if (!matches) {
      this.logger.error(
        {
          code: 'PAYMENT_AMOUNT_MISMATCH',
          paymentId: found.id,
          expected: { amount: Number(found.amount), currency: found.currency },
          verified: { amount: verified.amount, currency: verified.currency, status: verified.status },
        },
        'charge does not match our record; payment flagged',
      );
      await movePayment(trx, emit, found, parties, 'FLAGGED');
      return { outcome: 'flagged' };
    }
    const paid = await movePayment(trx, emit, found, parties, 'PAID', { paystack_transaction_id: verified.id });
    if (booking.status === 'CANCELLED' || booking.status === 'REJECTED') {
      // Paid for a booking that no longer exists: the money goes back.
      await movePayment(trx, emit, paid, parties, 'REFUND_PENDING');
      return { outcome: 'processed', followUp: () => this.payments.requestRefund(found.id) };
    }
    await movePayment(trx, emit, paid, parties, 'ESCROW');
    return { outcome: 'processed' };
  }

  private async transferSettled(
    trx: Knex.Transaction,
    emit: Emit,
    e: Envelope,
    to: PayoutStatus,
  ): Promise<WebhookOutcome> {
    const reference = str(e.data.reference);
    const payout = reference ? await lockPayoutByReference(trx, reference) : undefined;
    if (!payout) return 'unknown_reference';
    if (!canMovePayout(payout.status, to)) return 'no_change';
    const reason = to === 'FAILED' ? 'TRANSFER_FAILED' : to === 'REVERSED' ? 'TRANSFER_REVERSED' : null;
    await setPayoutStatus(trx, payout.id, to, { transfer_code: str(e.data.transfer_code) ?? payout.transfer_code ?? undefined, reason });
    emitPayoutStatus(emit, payout, payout.status, to, reason);
    return 'processed';
  }

  private async refundProcessed(
    trx: Knex.Transaction,
    emit: Emit,
    e: Envelope,
  ): Promise<WebhookOutcome> {
    const locked = await lockPaymentAndBooking(trx, str(e.data.transaction_reference));
    if (!locked) return 'unknown_reference';
    const { payment, booking } = locked;
    if (payment.status !== 'REFUND_PENDING' && payment.status !== 'ESCROW') return 'no_change';
    await movePayment(trx, emit, payment, { clientId: booking.client_id, providerId: booking.provider_id }, 'REFUNDED');
    return 'processed';
  }
}

/**
 * Booking first, then payment: the same order as booking moves take, so a webhook racing a
 * cancel waits instead of deadlocking.
 */
async function lockPaymentAndBooking(
  trx: Knex.Transaction,
  reference: string | undefined,
): Promise<{ payment: PaymentRow; booking: BookingRow } | undefined> {
  if (!reference) return undefined;
  const found = await findPaymentByReference(trx, reference);
  if (!found) return undefined;
  const booking = (await lockBooking(trx, found.booking_id))!;
  const payment = (await lockPayment(trx, found.id))!;
  return { payment, booking };
}
