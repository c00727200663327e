import crypto from 'node:crypto';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { FakePaystack } from '../../fakes/fake-paystack';
import { DEMO_USERS } from './demo-seed';

/** Long enough to watch a payout sit in PROCESSING on the dashboard, short enough not to bore. */
export const DEMO_SETTLE_DELAY_MS = 1_500;

export interface DemoPaystack {
  /** The server's config with the fake's address and its generated key in place of Paystack's. */
  config: Config;
  readonly fake: FakePaystack;
  /** Where the fake posts its signed webhooks (our own webhook route, known once we listen); its checkout links back to this server. */
  webhooksTo(url: string): void;
  stop(): Promise<void>;
}

/**
 * Demo mode with no Paystack configured: the fake runs inside this process on an ephemeral
 * loopback port, and settles transfers and refunds by itself a moment after they are requested,
 * so a payout reaches COMPLETED (and a refund REFUNDED) through the same webhooks Paystack sends.
 * Null when demo mode is off or Paystack is configured: a configured Paystack is always used.
 */
export async function startDemoPaystack(config: Config, logger: Logger): Promise<DemoPaystack | null> {
  if (!config.demoMode || config.paystackBaseUrlSet || config.PAYSTACK_SECRET_KEY) return null;
  // Generated per start: the key only has to agree between this process and its own fake.
  const secretKey = `sk_test_demo_${crypto.randomBytes(24).toString('hex')}`;
  const fake = new FakePaystack({ secretKey, host: '127.0.0.1' });
  const { url } = await fake.start();
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;

  const later = (what: string, reference: string, settle: () => Promise<unknown>) => {
    // Not awaited by the hook: the app's own call must be answered first, as with Paystack.
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (stopped) return;
      settle().catch((err) => logger.warn({ code: 'DEMO_SETTLE_FAILED', what, reference, err: String(err) }, 'demo Paystack could not settle'));
    }, DEMO_SETTLE_DELAY_MS);
    timers.add(timer);
  };
  fake.onTransferInitiated((reference) => later('transfer', reference, () => fake.settleTransfer(reference, 'success')));
  fake.onRefundQueued((reference) => later('refund', reference, () => fake.processRefund(reference)));

  logger.info({ paystackBaseUrl: url }, 'demo mode: fake Paystack running in this process');
  return {
    config: Object.freeze({ ...config, PAYSTACK_BASE_URL: url, PAYSTACK_SECRET_KEY: secretKey }),
    fake,
    webhooksTo: (target) => {
      fake.setWebhookTarget(target);
      // The checkout's way back: the payer's own dashboard on this server.
      fake.setReturnLink((email) => {
        const user = DEMO_USERS.find((u) => u.email === email);
        return user ? new URL(`${user.page}?as=${encodeURIComponent(user.id)}`, target).toString() : undefined;
      });
    },
    stop: async () => {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await fake.stop();
    },
  };
}
