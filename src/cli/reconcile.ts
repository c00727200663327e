// `npm run reconcile`: one reconciliation pass, then exit (the server also runs it periodically).
// Other instances hear of what it settles through PostgreSQL NOTIFY; on the embedded database, stop
// the server first (the data folder belongs to one process).
import { loadConfig, ConfigError } from '../config';
import { createLogger } from '../logger';
import { openDatabase } from '../storage/db';
import { buildServices } from '../services';

async function main() {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL);
  if (!config.PAYSTACK_SECRET_KEY) throw new ConfigError(['PAYSTACK_SECRET_KEY: required to reconcile']);
  const db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
  let close = () => Promise.resolve();
  try {
    await db.migrate();
    // The server's own wiring, started nothing: what it publishes reaches others through the log.
    const { reconciler, paystack } = buildServices(config, db, logger);
    close = async () => paystack?.close();
    const counts = await reconciler!.runOnce();
    process.stdout.write(`${JSON.stringify(counts)}\n`);
  } finally {
    await close();
    await db.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(
    err instanceof ConfigError ? `${err.message}\n` : `reconcile failed: ${err instanceof Error ? (err.stack ?? String(err)) : String(err)}\n`,
  );
  process.exit(1);
});
