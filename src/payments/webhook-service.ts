import crypto from 'node:crypto';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { EventPublisher } from '../events/event-publisher';
import { AppError } from '../http/app-error';
import type { Logger } from '../logger';
import { findPaymentByReference } from './payment-repository';
import type { PayoutStatus } from './payout-state';
import { settleCharge, settleDisputeOpened, settleDisputeResolved, settleRefund, settleTransfer } from './settlement';
import type { PaymentService } from './payment-service';
import type { PaystackClient, VerifiedTransaction } from './paystack-client';
import { isValidPaystackSignature } from './webhook-signature';
import { toStorable } from '../storage/storable-text';

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

/** A dispute names its charge in `data.transaction.reference` (the top-level one is null). */
function disputedReference(e: Envelope): string | undefined {
  const tx = e.data.transaction as { reference?: unknown } | undefined;
  return str(tx?.reference) ?? str(e.data.transaction_reference);
}

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
      // Signed by Paystack, so accepted whatever it holds: what PostgreSQL cannot store is replaced
      // (a reference that held NUL matches none of ours either way).
      json = toStorable(JSON.parse(raw.toString('utf8')));
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
        const r = await settleCharge(trx, emit, str(envelope.data.reference), verified, this.logger, (id) =>
          this.payments.requestRefund(id),
        );
        outcome = r.outcome;
        followUp = r.followUp;
      } else if (TRANSFER_STATUS[envelope.event]) {
        outcome = await settleTransfer(trx, emit, str(envelope.data.reference), TRANSFER_STATUS[envelope.event], str(envelope.data.transfer_code));
      } else if (envelope.event === 'refund.processed') {
        outcome = await settleRefund(trx, emit, str(envelope.data.transaction_reference));
      } else if (envelope.event === 'charge.dispute.create') {
        outcome = await settleDisputeOpened(trx, emit, disputedReference(envelope), str(envelope.data.id));
      } else if (envelope.event === 'charge.dispute.resolve') {
        const r = await settleDisputeResolved(trx, emit, disputedReference(envelope), str(envelope.data.resolution), this.logger);
        outcome = r.outcome;
        if (r.payoutToSend) followUp = () => this.payments.startTransfer(r.payoutToSend!);
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
}
