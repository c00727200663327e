import { Pool } from 'pg';
import { dedupeKey } from '../../../src/payments/webhook-service';
import type { WebhookResponse } from '../../../fakes/fake-paystack';

/**
 * The server answers a webhook before it settles it. For the fake Paystack's `afterWebhook`: waits
 * until the delivery just answered is settled in webhook_deliveries of the server's database, as
 * a flow must before its next step (a provider starts only once the payment is in escrow).
 */
export function webhookSettledWaiter(databaseUrl: string, timeoutMs = 30_000) {
  const pool = new Pool({ connectionString: databaseUrl, max: 2 });
  return {
    wait: async ({ rawBody, response }: { rawBody: string; response: WebhookResponse }): Promise<void> => {
      if (response.status !== 200) return;
      const key = dedupeKey(JSON.parse(rawBody), Buffer.from(rawBody));
      const until = Date.now() + timeoutMs;
      for (;;) {
        const { rows } = await pool.query('SELECT 1 FROM webhook_deliveries WHERE dedupe_key = $1 AND settled_at IS NULL', [key]);
        if (rows.length === 0) return;
        if (Date.now() > until) throw new Error(`webhook ${key} not settled within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => pool.end(),
  };
}
