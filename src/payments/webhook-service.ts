import crypto from 'node:crypto';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { Emit, EventPublisher } from '../events/event-publisher';
import { AppError } from '../errors/app-error';
import type { Logger } from '../logger';
import { claimDueDeliveries, lockUnsettled, markSettled, recordDelivery, type RecordedDelivery } from './webhook-repository';
import { verifyDelivery, type Verification } from './webhook-verification';
import { GroupCommit } from '../storage/group-commit';
import type { PayoutStatus } from '../contract/vocabulary';
import { recordRefundFailure, settleCharge, settleDisputeOpened, settleDisputeResolved, settleRefund, settleTransfer, type SettleOutcome } from './settlement';
import type { PaymentService } from './payment-service';
import { runFollowUp, type FollowUp } from './paystack-follow-ups';
import type { PaystackClient } from './paystack-client';
import { isValidPaystackSignature } from './webhook-signature';
import { toStorable } from '../storage/storable-text';

/** Paystack's envelope. `data` is read leniently: its fields vary by event and over time. */
const Envelope = z.object({ event: z.string().min(1).max(100), data: z.record(z.string(), z.unknown()) });
type Envelope = z.infer<typeof Envelope>;

/** The answer to a delivery: recorded for settling, or a redelivery of one recorded already. */
export type WebhookOutcome = 'recorded' | 'duplicate';

const TRANSFER_STATUS: Record<string, PayoutStatus> = {
  'transfer.success': 'COMPLETED',
  'transfer.failed': 'FAILED',
  'transfer.reversed': 'REVERSED',
};

/** A delivery's settled outcome, as recorded on its row, and the Paystack call to make after it. */
type Settled = { outcome: SettleOutcome | 'ignored' | 'contradicted'; followUp?: FollowUp };

/** Deliveries settled in one transaction at most: bounds how long a batch holds its row locks. */
const MAX_BATCH = 50;

const str = (v: unknown): string | undefined => (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined);
/** An amount in subunits, which Paystack sends as a number or a numeric string. */
const amount = (v: unknown): number | undefined => (typeof v === 'number' || (typeof v === 'string' && /^\d+$/.test(v)) ? Number(v) : undefined);

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
  // A charge may have several refunds (partial ones): each is its own, where Paystack names it.
  if (e.event.startsWith('refund.')) return `${e.event}:${str(d.transaction_reference)}:${str(d.refund_reference) ?? str(d.id) ?? ''}:${str(d.status)}`;
  if (e.event.startsWith('charge.dispute.')) return `${e.event}:${str(d.id)}:${str(d.status)}`;
  return `${e.event}:sha256:${crypto.createHash('sha256').update(raw).digest('hex')}`;
}

/** What the settling side needs of a recorded delivery. */
interface Delivery {
  id: string;
  key: string;
  envelope: Envelope;
}

/** A delivery Paystack has been asked about, ready to settle. */
interface Verified extends Delivery {
  verification: Verification;
}

export interface WebhookServiceOptions {
  /**
   * WEBHOOK_RETRY_MS: how often recorded-but-unsettled deliveries are looked for, and how long
   * one waits after an attempt before any instance tries it again (doubling per attempt).
   */
  retryMs: number;
  /**
   * The least time between two attempts at one delivery: longer than an attempt can take (its
   * Paystack calls, each within PAYSTACK_TIMEOUT_MS), so a sweep never takes a delivery that is
   * still being settled.
   */
  minAttemptMs: number;
}

/** Deliveries one sweep claims at a time. */
const SWEEP_BATCH = 50;
/** The longest wait between two attempts at one delivery: Paystack's own retries are hourly. */
const MAX_RETRY_MS = 3_600_000;

/**
 * POST /api/webhooks/paystack answers as soon as the delivery is durable: signature first
 * (nothing is stored without it), then the delivery is recorded under its dedupe key (a
 * redelivery finds the key and has no second effect) and the 200 goes out. Settling runs after
 * the answer, so a slow Paystack never makes the answer slow (Paystack gives up after about 30 s
 * and retries): Paystack is asked (verify), then the state change, the delivery's outcome and its
 * events commit in one transaction, then the follow-up Paystack call (transfer, refund) is made.
 * Deliveries that wait together share that transaction (group commit). A delivery whose settling
 * did not finish (Paystack down, a crash, a restart) is still recorded-not-settled and is claimed
 * again by a sweep on any instance; the reconciler asks Paystack about the money itself as the
 * last backstop.
 */
export class WebhookService {
  private readonly settler = new GroupCommit<Verified, Settled | 'skipped'>({
    maxBatch: MAX_BATCH,
    runBatch: (ds) => this.settleTogether(ds),
    runOne: (d) => this.settleTogether([d]).then((r) => r[0]),
    onBatchFailed: (err, size) => this.logger.warn({ code: 'WEBHOOK_BATCH_RETRIED', size, err }, 'webhook batch failed; settling each alone'),
  });
  /** Settling in flight on this instance (verify, settle, follow-up), each until it ends. */
  private readonly inFlight = new Set<Promise<void>>();
  private readonly counts = { recorded: 0, swept: 0, contradicted: 0, deferred: 0 };
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;
  private stopping = false;

  constructor(
    private readonly knex: Knex,
    private readonly publisher: EventPublisher,
    private readonly paystack: PaystackClient | null,
    private readonly secret: string | undefined,
    private readonly payments: PaymentService,
    private readonly logger: Logger,
    private readonly o: WebhookServiceOptions,
  ) {}

  /**
   * For /api/status: deliveries recorded by this instance, picked up by its sweep, contradicted by
   * Paystack, whose attempt failed and waits for a retry, being settled now; and how they were
   * grouped into transactions (batches, deliveries in them, batches retried one by one, waiting).
   */
  get settling(): {
    recorded: number;
    swept: number;
    contradicted: number;
    deferred: number;
    inFlight: number;
    batches: number;
    deliveries: number;
    retriedAlone: number;
    queued: number;
  } {
    const { batches, items, fallbacks } = this.settler.stats;
    return { ...this.counts, inFlight: this.inFlight.size, batches, deliveries: items, retriedAlone: fallbacks, queued: this.settler.queued };
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
    // The unique key makes a redelivery (or a racing first delivery) write nothing.
    const id = await recordDelivery(this.knex, { dedupeKey: key, event: envelope.event, payload: json, retryAfterMs: this.retryAfterMs });
    if (id === undefined) return 'duplicate';
    this.counts.recorded++;
    // Kicked now, not awaited: the answer does not wait for Paystack.
    this.track(this.settleOne({ id, key, envelope }));
    return 'recorded';
  }

  /** Sweeps now, then every `retryMs`: deliveries left unsettled by a crash, a restart or a failed attempt. */
  start(): void {
    if (this.sweepTimer || !this.paystack) return;
    void this.sweep();
    this.sweepTimer = setInterval(() => void this.sweep(), this.o.retryMs);
    this.sweepTimer.unref();
  }

  /**
   * Claims due unsettled deliveries (SKIP LOCKED, so instances take different ones) and settles
   * them, until none is due. Resolves with how many were claimed. One sweep at a time per instance.
   */
  sweep(): Promise<number> {
    return (this.sweeping ??= (async () => {
      let claimed = 0;
      try {
        while (!this.stopping) {
          const rows = await claimDueDeliveries(this.knex, SWEEP_BATCH, this.retryAfterMs, Math.max(MAX_RETRY_MS, this.retryAfterMs));
          if (!rows.length) break;
          claimed += rows.length;
          this.counts.swept += rows.length;
          this.logger.info({ code: 'WEBHOOK_SWEPT', count: rows.length }, 'settling deliveries recorded earlier');
          const work = rows
            .map((r) => this.fromRow(r))
            .filter((d): d is Delivery => d !== undefined)
            .map((d) => this.settleOne(d));
          work.forEach((w) => this.track(w));
          await Promise.all(work);
        }
      } catch (err) {
        this.logger.error({ code: 'WEBHOOK_SWEEP_FAILED', err }, 'webhook sweep failed; the next one retries');
      } finally {
        this.sweeping = undefined;
      }
      return claimed;
    })());
  }

  /** Resolves once nothing is being settled on this instance (tests wait on it, with the table). */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }

  /**
   * Stops sweeping and waits up to `waitMs` for settling in flight. What is not settled by then
   * stays recorded-not-settled, for the next start or another instance.
   */
  async stop(waitMs: number): Promise<void> {
    this.stopping = true;
    clearInterval(this.sweepTimer);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
  }

  private get retryAfterMs(): number {
    return Math.max(this.o.retryMs, this.o.minAttemptMs);
  }

  private track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  private fromRow(r: RecordedDelivery): Delivery | undefined {
    const parsed = Envelope.safeParse(r.payload);
    // Every recorded payload passed this schema when it arrived.
    if (!parsed.success) {
      this.logger.error({ code: 'WEBHOOK_RECORD_UNREADABLE', deliveryId: r.id }, 'a recorded delivery no longer parses');
      return undefined;
    }
    return { id: r.id, key: r.dedupe_key, envelope: parsed.data };
  }

  /** Verify, settle, follow up; never rejects (a failure leaves the delivery for a later attempt). */
  private async settleOne(d: Delivery): Promise<void> {
    const log = this.logger.child({ webhook: d.envelope.event, dedupeKey: d.key, deliveryId: d.id });
    try {
      const verification = await verifyDelivery(this.knex, this.paystack!, d.envelope.event, d.envelope.data, log);
      // Shutting down: the database is about to close; the delivery waits for the next start.
      if (this.stopping) return;
      const settled = await this.settler.submit({ ...d, verification });
      if (settled === 'skipped') return;
      if (settled.outcome === 'contradicted') this.counts.contradicted++;
      if (settled.outcome === 'unknown_reference' || settled.outcome === 'ignored') {
        log.warn({ code: settled.outcome === 'ignored' ? 'WEBHOOK_EVENT_IGNORED' : 'WEBHOOK_UNKNOWN_REFERENCE' }, 'webhook settled, nothing to do');
      } else {
        log.info({ outcome: settled.outcome }, 'webhook settled');
      }
      if (settled.followUp && !this.stopping) await runFollowUp(this.payments, settled.followUp);
    } catch (err) {
      this.counts.deferred++;
      log.warn({ code: 'WEBHOOK_SETTLE_DEFERRED', err }, 'could not settle a delivery now; it is tried again later');
    }
  }

  /**
   * Settles deliveries in one transaction: the deliveries' rows are locked first (only those
   * still unsettled and not held by another instance: the rest are skipped), then each one's state
   * change, then their outcomes, and their events at commit. A failure rolls the whole batch
   * back and GroupCommit settles each alone.
   */
  private async settleTogether(ds: readonly Verified[]): Promise<Array<Settled | 'skipped'>> {
    // The same lock order in every batch (and on every instance), so two batches touching the
    // same rows wait for each other instead of deadlocking.
    const keys = ds.map((d) => lockKey(d.envelope));
    const order = ds.map((_, i) => i).sort((a, b) => compare(keys[a], keys[b]));
    const { result } = await this.publisher.transaction(async (trx, emit) => {
      const mine = await lockUnsettled(
        trx,
        ds.map((d) => d.id),
      );
      const results: Array<Settled | 'skipped'> = ds.map(() => 'skipped');
      const outcomes: Array<{ id: string; outcome: string }> = [];
      for (const i of order) {
        const d = ds[i];
        if (!mine.has(d.id)) continue;
        mine.delete(d.id);
        const s = await this.settle(trx, emit, d);
        results[i] = s;
        outcomes.push({ id: d.id, outcome: s.outcome });
      }
      await markSettled(trx, outcomes);
      return results;
    });
    return result;
  }

  /** The state change a delivery makes, in its transaction, and the Paystack call to make after it. */
  private async settle(trx: Knex.Transaction, emit: Emit, d: Verified): Promise<Settled> {
    const { event, data } = d.envelope;
    if (d.verification.kind === 'contradicted') return { outcome: 'contradicted' };
    if (event === 'charge.success') {
      const verified = d.verification.kind === 'charge' ? d.verification.verified : undefined;
      return settleCharge(trx, emit, str(data.reference), verified, this.logger);
    }
    if (TRANSFER_STATUS[event]) return { outcome: await settleTransfer(trx, emit, str(data.reference), TRANSFER_STATUS[event], str(data.transfer_code)) };
    if (event === 'refund.processed') {
      if (d.verification.kind !== 'refunds') return { outcome: 'unknown_reference' };
      return { outcome: await settleRefund(trx, emit, str(data.transaction_reference), d.verification.processed) };
    }
    // Confirmed by Paystack's list of refunds before this, and only recorded: the reconciler asks
    // Paystack again before anything is requested again.
    if (event === 'refund.failed')
      return { outcome: await recordRefundFailure(trx, emit, str(data.transaction_reference), 'REFUND_FAILED', { checkNow: true }) };
    if (event === 'refund.needs-attention') {
      return { outcome: await recordRefundFailure(trx, emit, str(data.transaction_reference), 'REFUND_NEEDS_ATTENTION', { checkNow: true }) };
    }
    if (event === 'charge.dispute.create') return { outcome: await settleDisputeOpened(trx, emit, disputedReference(d.envelope), str(data.id)) };
    if (event === 'charge.dispute.resolve') {
      return settleDisputeResolved(trx, emit, disputedReference(d.envelope), str(data.resolution), amount(data.refund_amount), this.logger);
    }
    return { outcome: 'ignored' };
  }
}
