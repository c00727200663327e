// `npm run reconcile`: one reconciliation pass, then exit (the server also runs it periodically).
// Other instances hear of what it settles through PostgreSQL NOTIFY; on the embedded database, stop
// the server first (the data folder belongs to one process).
import { loadConfig, ConfigError } from '../config';
import { createLogger } from '../logger';
import { openDatabase } from '../storage/db';
import { EventPublisher } from '../events/event-publisher';
import { NotificationService } from '../notifications/notification-service';
import { PaymentService } from '../payments/payment-service';
import { createPaystackClient, type PaystackClient } from '../payments/paystack-client';
import { Reconciler, reconcilerOptions } from '../payments/reconciliation';
import { AttentionQueue, attentionRules, deriveAlertsAndNotifications } from '../payments/attention';

async function main() {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL);
  if (!config.PAYSTACK_SECRET_KEY) throw new ConfigError(['PAYSTACK_SECRET_KEY: required to reconcile']);
  const db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
  let paystack: PaystackClient | undefined;
  try {
    await db.migrate();
    const notifications = new NotificationService(db.knex);
    const attention = new AttentionQueue(db.knex, attentionRules(config));
    const publisher = new EventPublisher(db.knex, () => {}, deriveAlertsAndNotifications(attention, notifications));
    notifications.attach(publisher);
    paystack = createPaystackClient({
      baseUrl: config.PAYSTACK_BASE_URL,
      secretKey: config.PAYSTACK_SECRET_KEY,
      timeoutMs: config.PAYSTACK_TIMEOUT_MS,
      logger,
    });
    const payments = new PaymentService(db.knex, publisher, paystack, logger);
    const counts = await new Reconciler(db.knex, publisher, paystack, payments, logger, reconcilerOptions(config)).runOnce();
    process.stdout.write(`${JSON.stringify(counts)}\n`);
  } finally {
    await paystack?.close();
    await db.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(err instanceof ConfigError ? `${err.message}\n` : `reconcile failed: ${err instanceof Error ? (err.stack ?? String(err)) : String(err)}\n`);
  process.exit(1);
});
