/**
 * The webhook step's setup through the API: providers with a payout account, then bookings that
 * each end with a pending Paystack checkout (client books, provider accepts, client pays).
 */
import { nowMs } from './protocol';
import { bump, inBatches, parse } from './api-calls';
import { putJson } from './api-raw-request';
import type { WebhookSession } from './api-webhooks';

interface Provider {
  id: string;
  token: string;
}

/** Each payment's Paystack reference, in order; null where its setup failed. */
export async function setUpPayments(
  s: WebhookSession,
  payments: number,
): Promise<{ refs: Array<string | null>; setupSeconds: number; setupErrors: Record<string, number> }> {
  const { o, run } = s;
  s.say(`webhooks: making ${o.webhooks} bookings with a pending Paystack checkout through the API`);
  const ts = nowMs();
  const setupErrors: Record<string, number> = {};
  const providers = await makeProviders(s, setupErrors);
  const scheduledFor = new Date(Date.now() + 86_400_000).toISOString();
  const refs: Array<string | null> = new Array(payments).fill(null);
  await inBatches(
    Array.from({ length: refs.length }, (_, i) => i),
    Math.min(25, o.webhookConcurrency),
    async (i) => {
      const client = s.sign({ sub: `api-${run}-cli-${i}`, role: 'client', email: `bench${i}@example.co.za` });
      const prov = providers[i % providers.length];
      const b = await s.call('POST', '/api/bookings', client, { providerId: prov.id, service: 'cleaning', scheduledFor, amount: 10_000 + i });
      if (b.status !== 201) return void bump(setupErrors, `book ${b.status}`);
      const id = parse(b.body).id;
      const a = await s.call('POST', `/api/bookings/${id}/accept`, prov.token);
      if (a.status !== 200) return void bump(setupErrors, `accept ${a.status}`);
      const pay = await s.call('POST', `/api/bookings/${id}/payment`, client);
      if (pay.status !== 200) return void bump(setupErrors, `payment ${pay.status}: ${pay.body.slice(0, 120)}`);
      refs[i] = parse(pay.body).reference;
    },
  );
  return { refs, setupSeconds: (nowMs() - ts) / 1000, setupErrors };
}

async function makeProviders(s: WebhookSession, setupErrors: Record<string, number>): Promise<Provider[]> {
  const { run } = s;
  const providers = Array.from({ length: 10 }, (_, i) => ({ id: `api-${run}-prov-${i}`, token: s.sign({ sub: `api-${run}-prov-${i}`, role: 'provider' }) }));
  for (const p of providers) {
    await s.call('GET', '/api/me', p.token);
    const r = await putJson(
      `${s.url}/api/me/payout-account`,
      p.token,
      { accountName: 'Bench Provider', accountNumber: '1234567890', bankCode: '470010' },
      s.pool,
    );
    if (r.status !== 200) bump(setupErrors, `payout account ${r.status}: ${r.body.slice(0, 120)}`);
  }
  return providers;
}
