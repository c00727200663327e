import type { Knex } from 'knex';
import type { Config } from '../config';
import type { EventPublisher } from '../events/event-publisher';
import type { Logger } from '../logger';
import type { PaymentService } from './payment-service';
import { runFollowUp } from './paystack-follow-ups';
import { PaystackError, processedRefundTotal, type PaystackClient, type VerifiedTransaction } from './paystack-client';
import { CHARGE_ENDED_UNPAID, expireCheckout, recordRefundFailure, settleCharge, settleRefund, settleTransfer } from './settlement';
import { AWAITING_PAYSTACK } from './payment-state';
import { PAYOUT_AWAITING_PAYSTACK } from './payout-state';
import { claimDueChecks, type ClaimedCheck } from './check-schedule-repository';
import type { PayoutStatus } from '../contract/vocabulary';

const BATCH = 50;
/** Paystack calls in flight at once during a run: enough to drain a backlog, few enough to be polite. */
const CONCURRENCY = 8;

export interface ReconcileCounts {
  checked: number;
  settled: number;
  unchanged: number;
  failed: number;
}

export interface ReconcilerOptions {
  /** RECONCILE_AFTER_MS: a row's first check falls due this long after its last change; the back-off starts here. */
  staleAfterMs: number;
  /** RECONCILE_MAX_BACKOFF_MS: the longest wait between two checks of one row. */
  maxBackoffMs: number;
  /** CHECKOUT_EXPIRY_HOURS, in ms: an unpaid checkout older than this expires. */
  checkoutExpiryMs: number;
  /** A run stops claiming new rows after this long, so the other money jobs get their turn. */
  budgetMs: number;
}

/** Paystack's final transfer statuses, as our payout statuses. Anything else is still in flight. */
export const TRANSFER_FINAL: Record<string, PayoutStatus> = {
  success: 'COMPLETED',
  failed: 'FAILED',
  abandoned: 'FAILED',
  blocked: 'FAILED',
  rejected: 'FAILED',
  reversed: 'REVERSED',
};

/**
 * Asks Paystack about every payment and payout that waits on it, and settles them through the
 * same code as a webhook. Each row has its own schedule (`next_check_at`): claims take the most
 * overdue first, and an unchanged answer backs the row off (doubling, capped), so a backlog of
 * abandoned checkouts cannot starve a fresh charge whose webhook was lost. Safe on several
 * instances: rows are claimed with SKIP LOCKED, and every settlement re-checks state under a row lock.
 */
export class Reconciler {
  constructor(
    private readonly knex: Knex,
    private readonly publisher: EventPublisher,
    private readonly paystack: PaystackClient,
    private readonly payments: PaymentService,
    private readonly logger: Logger,
    private readonly o: ReconcilerOptions,
    private readonly onSettled: (kind: 'payment' | 'payout') => void = () => {},
  ) {}

  /** One pass: every row due now, payments then payouts, in batches, until none is due or the budget is spent. */
  async runOnce(now = Date.now()): Promise<ReconcileCounts> {
    const counts: ReconcileCounts = { checked: 0, settled: 0, unchanged: 0, failed: 0 };
    const started = Date.now();
    // Rows are claimed only if due by `now`, and a claim moves them past it. A row that a check
    // made due again (a new status) may come back in a later batch: it waits for the next run.
    const seen = new Set<string>();
    for (const kind of ['payment', 'payout'] as const) {
      for (;;) {
        if (Date.now() - started > this.o.budgetMs) {
          this.logger.warn({ code: 'RECONCILE_BUDGET_SPENT', counts }, 'reconciliation stopped at its time budget; the rest waits for the next run');
          return counts;
        }
        const rows = (await this.claim(kind, now)).filter((r) => !seen.has(`${kind}:${r.id}`));
        if (!rows.length) break;
        for (const r of rows) seen.add(`${kind}:${r.id}`);
        await forEachLimited(rows, CONCURRENCY, async (row) => {
          counts.checked++;
          await this.tally(counts, kind, () => (kind === 'payment' ? this.payment(row, now) : this.payout(row)));
        });
      }
    }
    return counts;
  }

  private async tally(counts: ReconcileCounts, kind: 'payment' | 'payout', fn: () => Promise<boolean>): Promise<void> {
    try {
      if (await fn()) {
        counts.settled++;
        this.onSettled(kind);
      } else counts.unchanged++;
    } catch (err) {
      counts.failed++;
      this.logger.warn({ code: 'RECONCILE_FAILED', kind, err }, 'could not reconcile; will retry');
    }
  }

  /**
   * Claims up to BATCH due rows, most overdue first, and schedules each one's next check
   * (RECONCILE_AFTER_MS doubled per check that found nothing new, capped): a settled row leaves
   * the waiting statuses and its schedule is cleared; an unchanged one has already backed off.
   * Payouts frozen by a card dispute are not claimed: nothing may be sent until it is resolved.
   */
  private async claim(kind: 'payment' | 'payout', now: number): Promise<ClaimedCheck[]> {
    return claimDueChecks(this.knex, {
      kind,
      statuses: kind === 'payment' ? AWAITING_PAYSTACK : PAYOUT_AWAITING_PAYSTACK,
      now: new Date(now),
      staleAfterMs: this.o.staleAfterMs,
      baseMs: Math.max(this.o.staleAfterMs, 1_000),
      maxBackoffMs: this.o.maxBackoffMs,
      limit: BATCH,
    });
  }

  private async payment(row: ClaimedCheck, now: number): Promise<boolean> {
    if (row.status === 'REFUND_PENDING') return this.refund(row);
    let verified: VerifiedTransaction | undefined;
    try {
      verified = await this.paystack.verifyTransaction(row.reference);
    } catch (err) {
      // Paystack does not know the reference: no charge was ever made against it.
      if (!(err instanceof PaystackError && err.code === 'PAYSTACK_REJECTED')) throw err;
    }
    if (verified?.status === 'success') {
      const { result } = await this.publisher.transaction((trx, emit) => settleCharge(trx, emit, row.reference, verified, this.logger));
      if (result.followUp) await runFollowUp(this.payments, result.followUp);
      return result.outcome === 'processed' || result.outcome === 'flagged';
    }
    const expired = now - new Date(row.created_at).getTime() >= this.o.checkoutExpiryMs;
    if (!expired || (verified && !CHARGE_ENDED_UNPAID.has(verified.status))) return false;
    const { result } = await this.publisher.transaction((trx, emit) => expireCheckout(trx, emit, row.reference));
    return result === 'processed';
  }

  /**
   * A refund we owe: Paystack's own list says whether it went through. Processed refunds are
   * counted (the payment is refunded, or back in escrow after a partial refund, or nearer its
   * target); pending → wait; needs-attention → the operators (it needs the customer's bank
   * details); none, or only failed ones, and still short of the target → ask again for the rest.
   */
  private async refund(row: ClaimedCheck): Promise<boolean> {
    const refunds = await this.paystack.listRefunds(row.paystack_transaction_id ?? row.reference);
    const processed = processedRefundTotal(refunds);
    const { result } = await this.publisher.transaction((trx, emit) => settleRefund(trx, emit, row.reference, processed));
    if (result === 'processed') return true;
    if (refunds.some((r) => r.status === 'pending' || r.status === 'processing')) return false;
    if (refunds.some((r) => r.status === 'needs-attention')) {
      await this.publisher.transaction((trx, emit) => recordRefundFailure(trx, emit, row.reference, 'REFUND_NEEDS_ATTENTION', { checkNow: false }));
      return false;
    }
    return this.payments.requestRefund(row.id);
  }

  private async payout(row: ClaimedCheck): Promise<boolean> {
    let remote;
    try {
      remote = await this.paystack.verifyTransfer(row.reference);
    } catch (err) {
      // Paystack has never heard of it: our transfer call never arrived. Send it (same reference).
      if (err instanceof PaystackError && err.code === 'PAYSTACK_REJECTED') return this.payments.startTransfer(row.id, { resend: true });
      throw err;
    }
    const to = TRANSFER_FINAL[remote.status];
    if (!to) return false;
    const { result } = await this.publisher.transaction((trx, emit) => settleTransfer(trx, emit, row.reference, to, remote.transferCode));
    return result === 'processed';
  }
}

/** The reconciler's schedule, from the validated configuration. */
export function reconcilerOptions(
  config: Pick<Config, 'RECONCILE_AFTER_MS' | 'RECONCILE_MAX_BACKOFF_MS' | 'CHECKOUT_EXPIRY_HOURS' | 'RECONCILE_INTERVAL_MS'>,
): ReconcilerOptions {
  return {
    staleAfterMs: config.RECONCILE_AFTER_MS,
    maxBackoffMs: config.RECONCILE_MAX_BACKOFF_MS,
    checkoutExpiryMs: config.CHECKOUT_EXPIRY_HOURS * 3_600_000,
    budgetMs: config.RECONCILE_INTERVAL_MS,
  };
}

/** Runs `fn` over `items` with at most `limit` at once; resolves when all have finished. */
async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** The periodic money housekeeping: each task in turn, never two runs at once. */
export function startMoneyJobs(tasks: Array<{ name: string; run: () => Promise<unknown> }>, intervalMs: number, logger: Logger): { stop(): void } {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    void (async () => {
      for (const t of tasks) {
        try {
          const result = await t.run();
          logger.debug({ job: t.name, result }, 'money job ran');
        } catch (err) {
          logger.error({ code: 'MONEY_JOB_FAILED', job: t.name, err }, 'money job failed; will retry next interval');
        }
      }
    })().finally(() => (running = false));
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
