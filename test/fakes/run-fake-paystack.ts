/*
 * The fake Paystack on its own, for a local demo with no real Paystack:
 *
 *   PORT=4010 WEBHOOK_URL=http://localhost:3000/api/webhooks/paystack npx tsx test/fakes/run-fake-paystack.ts
 *
 * then start the server with PAYSTACK_BASE_URL=http://localhost:4010 and the same
 * PAYSTACK_SECRET_KEY. Each payment's authorization URL opens a checkout page whose Pay button
 * completes the charge and posts a signed charge.success to WEBHOOK_URL.
 *
 * Env: PORT (4010), HOST (127.0.0.1), PUBLIC_URL (http://localhost:PORT),
 * PAYSTACK_SECRET_KEY (sk_test_local_fake_paystack_key), WEBHOOK_URL.
 */
import { DEFAULT_FAKE_SECRET, FakePaystack } from '../../fakes/fake-paystack';

async function main(): Promise<void> {
  const port = Number(process.env.PORT || 4010);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, not ${process.env.PORT}`);
  const secretKey = process.env.PAYSTACK_SECRET_KEY || DEFAULT_FAKE_SECRET;
  const webhookUrl = process.env.WEBHOOK_URL || 'http://localhost:3000/api/webhooks/paystack';
  const fake = new FakePaystack({
    secretKey,
    port,
    host: process.env.HOST || '127.0.0.1',
    publicUrl: process.env.PUBLIC_URL || `http://localhost:${port}`,
    log: (line) => process.stdout.write(`${new Date().toISOString()} ${line}\n`),
  });
  const { url } = await fake.start();
  fake.setWebhookTarget(webhookUrl);
  const keyHint = secretKey === DEFAULT_FAKE_SECRET ? ` (the default: ${DEFAULT_FAKE_SECRET})` : ' (from PAYSTACK_SECRET_KEY)';
  process.stdout.write(
    `Fake Paystack listening on ${url}\n` +
      `  API key expected${keyHint}\n` +
      `  webhooks go to ${webhookUrl}\n` +
      `  run the server with PAYSTACK_BASE_URL=${url} and the same PAYSTACK_SECRET_KEY\n`,
  );

  const shutdown = () => {
    fake.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
