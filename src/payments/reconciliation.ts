import type { Knex } from 'knex';
import type { EventPublisher } from '../events/event-publisher';
import type { Logger } from '../logger';
import type { PaymentService } from './payment-service';
import { PaystackError, type PaystackClient } from './paystack-client';
import { settleCharge, settleTransfer } from './settlement';
import type { PayoutStatus } from './payout-state';

const LEASE_MS = 60_000;
const BATCH = 50;

export interface ReconcileCounts {
  checked: number;
  settled: number;
  unchanged: number;
  failed: number;
}

/** Paystack's final transfer statuses, as our payout statuses. Anything else is still in flight. */
const TRANSFER_FINAL: Record<string, PayoutStatus> = {
  success: 'COMPLETED',
  failed: 'FAILED',
  abandoned: 'FAILED',
  blocked: 'FAILED',
  rejected: 'FAILED',
  reversed: 'REVERSED',
};

/**
 * Finds payments and payouts that have waited too long for a webhook, asks Paystack what
 * happened, and settles them through the same code as a webhook. Safe on several instances:
 * rows are leased with SKIP LOCKED, and every settlement re-checks state under a row lock.
 */
export class Reconciler {
  constructor(
    private readonly knex: Knex,
    private readonly publisher: EventPublisher,
    private readonly paystack: PaystackClient,
    private readonly payments: PaymentService,
    private readonly logger: Logger,
    private readonly staleAfterMs: number,
    private readonly onSettled: (kind: 'payment' | 'payout') => void = () => {},
  ) {}

  async runOnce(): Promise<ReconcileCounts> {
    const counts: ReconcileCounts = { checked: 0, settled: 0, unchanged: 0, failed: 0 };
    for (const p of await this.claim('payments', ['PENDING'])) {
      counts.checked++;
      await this.tally(counts, 'payment', () => this.payment(p.reference));
    }
    for (const p of await this.claim('payouts', ['PENDING', 'PROCESSING'])) {
      counts.checked++;
      await this.tally(counts, 'payout', () => this.payout(p.id, p.reference));
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

  /** Leases stale rows to this run: one statement, so concurrent reconcilers get disjoint sets. */
  private async claim(table: 'payments' | 'payouts', statuses: string[]): Promise<Array<{ id: string; reference: string; status: string }>> {
    const now = Date.now();
    const result = await this.knex.raw(
      `UPDATE ${table} SET reconcile_after = ? WHERE id IN (
         SELECT id FROM ${table}
         WHERE status = ANY(?::text[]) AND updated_at < ? AND (reconcile_after IS NULL OR reconcile_after < ?)
         ORDER BY id LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)
       RETURNING id, reference, status`,
      [new Date(now + LEASE_MS), statuses, new Date(now - this.staleAfterMs), new Date(now)],
    );
    return result.rows;
  }

  private async payment(reference: string): Promise<boolean> {
    const verified = await this.paystack.verifyTransaction(reference);
    if (verified.status !== 'success') return false;
    let followUp: (() => Promise<void>) | undefined;
    const { result } = await this.publisher.transaction(async (trx, emit) => {
      const r = await settleCharge(trx, emit, reference, verified, this.logger, (id) => this.payments.requestRefund(id));
      followUp = r.followUp;
      return r.outcome;
    });
    if (followUp) await followUp();
    return result === 'processed' || result === 'flagged';
  }

  private async payout(id: string, reference: string): Promise<boolean> {
    let remote;
    try {
      remote = await this.paystack.verifyTransfer(reference);
    } catch (err) {
      // Paystack has never heard of it: our transfer call never arrived. Send it (same reference).
      if (err instanceof PaystackError && err.code === 'PAYSTACK_REJECTED') {
        await this.payments.startTransfer(id, { resend: true });
        return true;
      }
      throw err;
    }
    const to = TRANSFER_FINAL[remote.status];
    if (!to) return false;
    const { result } = await this.publisher.transaction((trx, emit) => settleTransfer(trx, emit, reference, to, remote.transferCode));
    return result === 'processed';
  }
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
