import crypto from 'node:crypto';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { Emit, EventPublisher } from '../events/event-publisher';
import { AppError } from '../http/app-error';
import type { Logger } from '../logger';
import { lookUpDelivery, recordDeliveries, type DeliveryRecord } from './webhook-repository';
import { GroupCommit } from '../storage/group-commit';
import type { PayoutStatus } from './payout-state';
import { recordRefundFailure, settleCharge, settleDisputeOpened, settleDisputeResolved, settleRefund, settleTransfer, type SettleOutcome } from './settlement';
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

type Settled = { outcome: SettleOutcome | 'ignored'; followUp?: () => Promise<unknown> };

/** A delivery that passed its signature and dedupe check and was verified with Paystack if need be. */
interface Delivery {
  envelope: Envelope;
  key: string;
  payload: unknown;
  verified: VerifiedTransaction | undefined;
}

/** Deliveries settled in one transaction at most: bounds how long a batch holds its row locks. */
const MAX_BATCH = 50;

const str = (v: unknown): string | undefined => (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined);

/** A dispute names its charge in `data.transaction.reference` (the top-level one is null). */
function disputedReference(e: Envelope): string | undefined {
  const tx = e.data.transaction as { reference?: unknown } | undefined;
  return str(tx?.reference) ?? str(e.data.transaction_reference);
}

/**
 * The row a delivery locks first: a payment (charges, refunds, disputes) or a payout (transfers),
 * by reference. Sorting a batch by it gives every batch the same lock order.
 */
function lockKey(e: Envelope): string {
  if (e.event.startsWith('transfer.')) return `payout:${str(e.data.reference) ?? ''}`;
  if (e.event.startsWith('refund.')) return `payment:${str(e.data.transaction_reference) ?? ''}`;
  if (e.event.startsWith('charge.dispute.')) return `payment:${disputedReference(e) ?? ''}`;
  return `payment:${str(e.data.reference) ?? ''}`;
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

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
 * without it), then one transaction that changes state, records the delivery and appends events,
 * so a redelivery finds its key and has no second effect. Deliveries that arrive together share
 * that transaction (group commit): Paystack sends them in bursts, and one transaction each was
 * the ceiling on how many an instance could take.
 */
export class WebhookService {
  private readonly settler = new GroupCommit<Delivery, Settled | 'duplicate'>({
    maxBatch: MAX_BATCH,
    runBatch: (ds) => this.settleTogether(ds),
    // Alone, a key recorded meanwhile simply makes this delivery a redelivery.
    runOne: (d) =>
      this.settleTogether([d]).then(
        (r) => r[0],
        (err) => {
          if (err instanceof RecordedMeanwhile) return 'duplicate' as const;
          throw err;
        },
      ),
    onBatchFailed: (err, size) => {
      // A redelivery racing its first delivery is expected; anything else is worth a look.
      if (err instanceof RecordedMeanwhile) this.logger.info({ size }, 'webhook batch had a redelivery; settling each alone');
      else this.logger.warn({ code: 'WEBHOOK_BATCH_RETRIED', size, err }, 'webhook batch failed; settling each alone');
    },
  });

  constructor(
    private readonly knex: Knex,
    private readonly publisher: EventPublisher,
    private readonly paystack: PaystackClient | null,
    private readonly secret: string | undefined,
    private readonly payments: PaymentService,
    private readonly logger: Logger,
  ) {}

  /** How deliveries have been grouped so far, and how many wait for the batch in flight. */
  get settling(): { batches: number; deliveries: number; retriedAlone: number; queued: number } {
    const { batches, items, fallbacks } = this.settler.stats;
    return { batches, deliveries: items, retriedAlone: fallbacks, queued: this.settler.queued };
  }

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

    const reference = envelope.event === 'charge.success' ? str(envelope.data.reference) : undefined;
    // A cheap early exit for redeliveries; the unique key, recorded in the transaction, is what
    // actually guarantees it.
    const known = await lookUpDelivery(this.knex, key, reference);
    if (known.recorded) return 'duplicate';

    // Paystack is asked before any transaction opens (never hold one across a network call).
    const verified = reference && known.paymentExists ? await this.verifyCharge(reference) : undefined;

    const settled = await this.settler.submit({ envelope, key, payload: json, verified });
    if (settled === 'duplicate') return 'duplicate';
    const log = this.logger.child({ webhook: envelope.event, dedupeKey: key });
    if (settled.outcome === 'unknown_reference' || settled.outcome === 'ignored') {
      log.warn({ code: settled.outcome === 'ignored' ? 'WEBHOOK_EVENT_IGNORED' : 'WEBHOOK_UNKNOWN_REFERENCE' }, 'webhook recorded, nothing to do');
    } else {
      log.info({ outcome: settled.outcome }, 'webhook processed');
    }
    if (settled.followUp) await settled.followUp();
    return settled.outcome;
  }

  /**
   * Settles deliveries in one transaction: each delivery's state change, then every delivery
   * recorded with its outcome, then all their events. A delivery whose key comes twice is settled
   * once (the other is a redelivery). A key another transaction recorded meanwhile rolls the whole
   * batch back (RecordedMeanwhile: that delivery must have no effect), and GroupCommit then runs
   * each alone.
   */
  private async settleTogether(ds: readonly Delivery[]): Promise<Array<Settled | 'duplicate'>> {
    // The same lock order in every batch (and on every instance), so two batches touching the
    // same rows wait for each other instead of deadlocking.
    const keys = ds.map((d) => lockKey(d.envelope));
    const order = ds.map((_, i) => i).sort((a, b) => compare(keys[a], keys[b]));
    const { result } = await this.publisher.transaction(async (trx, emit) => {
      const results: Array<Settled | 'duplicate'> = new Array(ds.length);
      const records: DeliveryRecord[] = [];
      const seen = new Set<string>();
      for (const i of order) {
        const d = ds[i];
        if (seen.has(d.key)) {
          results[i] = 'duplicate';
          continue;
        }
        seen.add(d.key);
        const s = await this.settle(trx, emit, d.envelope, d.verified);
        results[i] = s;
        records.push({ dedupeKey: d.key, event: d.envelope.event, payload: d.payload, outcome: s.outcome });
      }
      // Recorded last, once the rows they touch are locked: a delivery of the same key that
      // committed first makes this one a redelivery, with no effect.
      if ((await recordDeliveries(trx, records)) < records.length) throw new RecordedMeanwhile();
      return results;
    });
    return result;
  }

  /** The state change a delivery makes, in its transaction, and the Paystack call to make after it. */
  private async settle(trx: Knex.Transaction, emit: Emit, envelope: Envelope, verified: VerifiedTransaction | undefined): Promise<Settled> {
    const { event, data } = envelope;
    if (event === 'charge.success') {
      return settleCharge(trx, emit, str(data.reference), verified, this.logger, (id) => this.payments.requestRefund(id));
    }
    if (TRANSFER_STATUS[event]) return { outcome: await settleTransfer(trx, emit, str(data.reference), TRANSFER_STATUS[event], str(data.transfer_code)) };
    if (event === 'refund.processed') return { outcome: await settleRefund(trx, emit, str(data.transaction_reference)) };
    // Recorded, not acted on: the reconciler lists the transaction's refunds with Paystack before
    // anything is requested again (a forged or stale failure then moves no money).
    if (event === 'refund.failed') return { outcome: await recordRefundFailure(trx, emit, str(data.transaction_reference), 'REFUND_FAILED', { checkNow: true }) };
    if (event === 'refund.needs-attention') {
      return { outcome: await recordRefundFailure(trx, emit, str(data.transaction_reference), 'REFUND_NEEDS_ATTENTION', { checkNow: true }) };
    }
    if (event === 'charge.dispute.create') return { outcome: await settleDisputeOpened(trx, emit, disputedReference(envelope), str(data.id)) };
    if (event === 'charge.dispute.resolve') {
      const r = await settleDisputeResolved(trx, emit, disputedReference(envelope), str(data.resolution), this.logger);
      return { outcome: r.outcome, followUp: r.payoutToSend ? () => this.payments.startTransfer(r.payoutToSend!) : undefined };
    }
    return { outcome: 'ignored' };
  }

  private async verifyCharge(reference: string): Promise<VerifiedTransaction> {
    try {
      return await this.paystack!.verifyTransaction(reference);
    } catch (err) {
      // Not a 200: Paystack will redeliver, and nothing has been stored yet.
      this.logger.error({ code: 'PAYSTACK_VERIFY_FAILED', reference, err }, 'could not verify a charge');
      throw new AppError('PAYMENT_PROVIDER_UNAVAILABLE', 'Could not verify the charge with Paystack; retry later');
    }
  }
}

/**
 * Thrown inside the delivery's transaction to roll it back when its key turns out to be recorded
 * already; caught in `receive`, never seen outside it.
 */
class RecordedMeanwhile extends Error {}
