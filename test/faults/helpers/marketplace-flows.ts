import type { FakePaystack, WebhookResponse } from '../../../fakes/fake-paystack';
import { api, pick, type Reply } from './http';
import { inAnHour } from '../../support/booking-time';
import { sleep } from '../../support/sleep';
import type { Actor } from '../../support/actors';

export interface FlowStats {
  flows: number;
  /** Requests that got an answer the flow did not expect (each with why). */
  unexpected: string[];
  webhooks: number;
  duplicateWebhooks: number;
  staleWebhooks: number;
  failedTransfers: number;
  refunds: number;
  webhookStatuses: Record<number, number>;
}

/**
 * Random booking flows through the real routes against the fake Paystack: rejections,
 * cancellations (refunded when paid), payments, escrow, completion and payouts, with the
 * webhooks Paystack would send: 10% sent twice, old ones re-sent later (out of order), and
 * transfers settled in random order, 5% of them failing.
 */
export class MarketplaceFlows {
  readonly stats: FlowStats = {
    flows: 0,
    unexpected: [],
    webhooks: 0,
    duplicateWebhooks: 0,
    staleWebhooks: 0,
    failedTransfers: 0,
    refunds: 0,
    webhookStatuses: {},
  };
  private readonly transfers: string[] = [];
  private readonly refunds: string[] = [];
  private running = true;
  private readonly loops: Promise<void>[] = [];

  constructor(
    private readonly url: string,
    private readonly paystack: FakePaystack,
    private readonly clients: Actor[],
    private readonly providers: Actor[],
    workers: number,
  ) {
    paystack.onTransferInitiated((reference) => {
      this.transfers.push(reference);
    });
    for (let i = 0; i < workers; i++) this.loops.push(this.loop(() => this.flow()));
    this.loops.push(this.loop(() => this.settleOne(), 40));
    this.loops.push(this.loop(() => this.resendStale(), 250));
  }

  /** Stops new flows, then settles every transfer and refund still waiting. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    while (this.transfers.length || this.refunds.length) await this.settleOne();
  }

  private async loop(step: () => Promise<unknown>, pauseMs = 0): Promise<void> {
    while (this.running) {
      await step();
      if (pauseMs) await sleep(pauseMs);
    }
  }

  private async flow(): Promise<void> {
    this.stats.flows++;
    const client = pick(this.clients);
    const provider = pick(this.providers);
    const created = await this.call(client, 'POST', '/api/bookings', 201, {
      providerId: provider.sub,
      service: 'plumbing',
      scheduledFor: inAnHour(),
      amount: 10_000 + Math.floor(Math.random() * 90_000),
    });
    if (!created) return;
    const b = `/api/bookings/${created.body.id}`;
    const roll = Math.random();
    if (roll < 0.1) return void (await this.call(provider, 'POST', `${b}/reject`, 200, { reason: 'fully booked' }));
    if (roll < 0.15) return void (await this.call(client, 'POST', `${b}/cancel`, 200));
    if (!(await this.call(provider, 'POST', `${b}/accept`, 200))) return;
    const pay = await this.call(client, 'POST', `${b}/payment`, 200);
    if (!pay) return;
    const reference = pay.body.reference as string;
    if (Math.random() < 0.05) return void (await this.call(client, 'POST', `${b}/cancel`, 200));
    await this.webhook(reference, () => this.paystack.completeCharge(reference));
    if (Math.random() < 0.1) {
      // Paid, then cancelled: refunded; Paystack reports the refund later.
      if (await this.call(pick([client, provider]), 'POST', `${b}/cancel`, 200)) this.refunds.push(reference);
      return;
    }
    if (!(await this.call(provider, 'POST', `${b}/start`, 200))) return;
    if (!(await this.call(provider, 'POST', `${b}/complete`, 200))) return;
    await this.call(client, 'POST', `${b}/confirm-completion`, 200);
  }

  /** One waiting transfer or refund, picked at random so they settle out of order. */
  private async settleOne(): Promise<void> {
    if (this.refunds.length && (Math.random() < 0.3 || !this.transfers.length)) {
      const reference = this.refunds.splice(Math.floor(Math.random() * this.refunds.length), 1)[0];
      if (!this.paystack.refundsOf(reference).some((r) => r.status === 'pending')) return;
      this.stats.refunds++;
      await this.webhook(reference, () => this.paystack.processRefund(reference));
      return;
    }
    if (!this.transfers.length) return;
    const reference = this.transfers.splice(Math.floor(Math.random() * this.transfers.length), 1)[0];
    const fail = Math.random() < 0.05;
    if (fail) this.stats.failedTransfers++;
    await this.webhook(reference, () => this.paystack.settleTransfer(reference, fail ? 'failed' : 'success'));
  }

  /** Paystack's retries of an old delivery, arriving after newer ones. */
  private async resendStale(): Promise<void> {
    const sent = this.paystack.webhooks;
    if (sent.length < 10) return;
    const old = sent[Math.floor(Math.random() * (sent.length - 5))];
    this.stats.staleWebhooks++;
    this.count(await this.paystack.postWebhook(old.event, undefined, { rawBody: old.rawBody, signature: old.signature }));
  }

  /** Sends one webhook, and in 10% of cases the very same bytes again at once. */
  private async webhook(reference: string, send: () => Promise<WebhookResponse>): Promise<void> {
    this.stats.webhooks++;
    this.count(await send());
    if (Math.random() >= 0.1) return;
    const sent = this.paystack.webhooks;
    for (let i = sent.length - 1; i >= 0; i--) {
      if (!sent[i].rawBody.includes(reference)) continue;
      this.stats.duplicateWebhooks++;
      this.count(await this.paystack.postWebhook(sent[i].event, undefined, { rawBody: sent[i].rawBody, signature: sent[i].signature }));
      return;
    }
  }

  private count(r: WebhookResponse): void {
    this.stats.webhookStatuses[r.status] = (this.stats.webhookStatuses[r.status] ?? 0) + 1;
  }

  private async call(who: Actor, method: string, path: string, expected: number, body?: unknown): Promise<Reply | undefined> {
    const r = await api(this.url, who.token, method, path, body);
    if (r.status === expected) return r;
    this.stats.unexpected.push(`${method} ${path} by ${who.sub}: ${r.status} ${JSON.stringify(r.body ?? r.error).slice(0, 200)}`);
    return undefined;
  }
}
