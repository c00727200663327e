// `npm run migrate` and the Procfile's release phase: run migrations and exit.
import { loadConfig, ConfigError } from '../config';
import { openDatabase } from '../storage/db';

async function main() {
  const config = loadConfig();
  const db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
  try {
    const [batch, names] = (await db.knex.migrate.latest()) as [number, string[]];
    process.stdout.write(names.length ? `batch ${batch}: ${names.join(', ')}\n` : 'already up to date\n');
  } finally {
    await db.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(
    err instanceof ConfigError ? `${err.message}\n` : `migration failed: ${err instanceof Error ? (err.stack ?? String(err)) : String(err)}\n`,
  );
  process.exit(1);
});
