/**
 * The api phase's webhook step: payments set up through the API, a burst of signed
 * `charge.success` deliveries with redeliveries, every payment checked in ESCROW, then deliveries
 * while every Paystack call is slow.
 */
import type http from 'node:http';
import { signPaystackBody, type FakePaystack } from '../fakes/fake-paystack';
import { nowMs } from './protocol';
import { readMetrics } from './http';
import { summarize } from './report';
import type { ApiContext, ApiOptions, ApiResult } from './api-load';
import { bump, inBatches, parse, type Call } from './api-calls';
import { postRaw } from './api-raw-request';
import { setUpPayments } from './api-webhook-setup';
import { sleep } from '../test/support/sleep';

/** The key the fake Paystack and our server share; deliveries are signed with it. */
export const PAYSTACK_KEY = 'sk_test_bench_fake_paystack_key_0123456789';
/** The slow-Paystack step of the webhook phase: payments, and how long each Paystack call takes. */
const SLOW_PAYSTACK_PAYMENTS = 100;
const SLOW_PAYSTACK_MS = 2_000;

export type WebhookFigures = NonNullable<ApiResult['webhooks']>;

/** What the webhook steps share: our server, the fake Paystack, the driver's pool and the tokens. */
export interface WebhookSession extends ApiContext {
  o: ApiOptions;
  url: string;
  paystack: FakePaystack;
  pool: http.Agent;
  call: Call;
}

export async function measureWebhooks(s: WebhookSession): Promise<WebhookFigures> {
  const { o } = s;
  // Beyond the burst's payments, SLOW_PAYSTACK_PAYMENTS more for the slow-Paystack step.
  const { refs, setupSeconds, setupErrors } = await setUpPayments(s, o.webhooks + SLOW_PAYSTACK_PAYMENTS);
  const ready = refs.slice(0, o.webhooks).filter((r): r is string => r !== null);
  const slowReady = refs.slice(o.webhooks).filter((r): r is string => r !== null);
  const bodies = ready.map((reference, i) => chargeBody(s.paystack, reference, 900_000 + i));
  // Paystack retries: every tenth delivery again, byte for byte, later in the burst.
  const deliveries = [...bodies, ...bodies.filter((_, i) => i % 10 === 0)];
  s.say(
    `webhooks: ${bodies.length} payments ready in ${setupSeconds.toFixed(1)} s; burst of ${deliveries.length} deliveries, ${o.webhookConcurrency} at a time`,
  );
  const burst = await deliverBurst(s, deliveries);
  const werrors = burst.errors;
  const settled = await countInEscrow(s, ready, werrors);
  const slow = await deliverWithPaystackSlow(s, slowReady, werrors);
  const ledger = await s.call('GET', '/api/ledger/summary', s.admin);
  const wl = summarize(burst.latencies);
  const webhooks: WebhookFigures = {
    payments: ready.length,
    setupSeconds,
    setupErrors,
    deliveries: deliveries.length,
    duplicatesSent: deliveries.length - bodies.length,
    concurrency: o.webhookConcurrency,
    seconds: burst.seconds,
    perSec: deliveries.length / burst.seconds,
    p50Ms: wl.p50,
    p99Ms: wl.p99,
    errors: werrors,
    settled,
    notSettled: ready.length - settled,
    ledgerBalanced: ledger.status === 200 ? Boolean(parse(ledger.body)?.balanced) : null,
    serverCpuPerDeliveryUs: (burst.serverCpuSeconds * 1e6) / deliveries.length,
    slowPaystack: slow,
  };
  s.say(
    `webhooks: ${webhooks.perSec.toFixed(0)} deliveries/s, p50 ${webhooks.p50Ms?.toFixed(1)} p99 ${webhooks.p99Ms?.toFixed(1)} ms; ` +
      `${settled}/${ready.length} in ESCROW; ledger balanced ${webhooks.ledgerBalanced}; errors ${JSON.stringify(werrors)}`,
  );
  return webhooks;
}

/** Marks the charge paid at the fake, and writes the `charge.success` it would deliver. */
function chargeBody(paystack: FakePaystack, reference: string, id: number): string {
  const tx = paystack.markPaid(reference);
  return JSON.stringify({ event: 'charge.success', data: { id, reference, amount: tx.amount, currency: tx.currency, status: 'success' } });
}

/** The burst, from the first send to all settled, with the server's CPU across it. */
async function deliverBurst(s: WebhookSession, deliveries: string[]) {
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  const mw0 = await readMetrics(s.url);
  const tw = nowMs();
  await deliver(s, deliveries, s.o.webhookConcurrency, latencies, errors, 'HTTP');
  // Answered once recorded: the burst counts as processed when the server has settled it all.
  await untilSettled(s, 10);
  const twEnd = nowMs();
  const mw1 = await readMetrics(s.url);
  return { latencies, errors, seconds: (twEnd - tw) / 1000, serverCpuSeconds: mw1.cpuSeconds - mw0.cpuSeconds };
}

/** Signed deliveries, `concurrency` at a time, each timed from its send to its answer. */
async function deliver(s: WebhookSession, bodies: string[], concurrency: number, latencies: number[], errors: Record<string, number>, label: string) {
  await inBatches(bodies, concurrency, async (body) => {
    const t = nowMs();
    const r = await postRaw(`${s.url}/api/webhooks/paystack`, body, signPaystackBody(body, PAYSTACK_KEY), s.pool).catch((e: Error) => ({
      status: 0,
      body: e.message,
    }));
    latencies.push(nowMs() - t);
    if (r.status !== 200) bump(errors, `${label} ${r.status}`);
  });
}

/** Until the server has no delivery in flight or queued, for two minutes at most. */
async function untilSettled(s: WebhookSession, everyMs: number): Promise<void> {
  for (const deadline = nowMs() + 120_000; nowMs() < deadline; await sleep(everyMs)) {
    const st = parse((await s.call('GET', '/api/status', s.admin)).body);
    if (st && st.webhookSettling.inFlight === 0 && st.webhookSettling.queued === 0) break;
  }
}

/** Every payment: ESCROW, read back through the admin API. */
async function countInEscrow(s: WebhookSession, ready: string[], errors: Record<string, number>): Promise<number> {
  let settled = 0;
  let cursor: string | null = null;
  do {
    const r = await s.call('GET', `/api/payments?status=ESCROW&limit=100${cursor ? `&cursor=${cursor}` : ''}`, s.admin);
    const b = parse(r.body);
    if (r.status !== 200 || !b) {
      bump(errors, `list ${r.status}`);
      break;
    }
    settled += b.payments.filter((p: { reference: string }) => ready.includes(p.reference)).length;
    cursor = b.nextCursor;
  } while (cursor);
  return settled;
}

/** Paystack slow: every call it answers takes SLOW_PAYSTACK_MS. The answer must not wait for it. */
async function deliverWithPaystackSlow(s: WebhookSession, slowReady: string[], errors: Record<string, number>): Promise<WebhookFigures['slowPaystack']> {
  s.say(`webhooks: ${slowReady.length} more with every Paystack call ${SLOW_PAYSTACK_MS} ms slow`);
  const slowBodies = slowReady.map((reference, i) => chargeBody(s.paystack, reference, 950_000 + i));
  const slowLat: number[] = [];
  s.paystack.latencyMs = SLOW_PAYSTACK_MS;
  try {
    await deliver(s, slowBodies, 10, slowLat, errors, 'slow HTTP');
    await untilSettled(s, 50);
  } finally {
    s.paystack.latencyMs = 0;
  }
  const slow = summarize(slowLat);
  return { deliveries: slowBodies.length, paystackMs: SLOW_PAYSTACK_MS, p50Ms: slow.p50, p99Ms: slow.p99 };
}
