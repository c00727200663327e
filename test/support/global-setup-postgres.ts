import { Client } from 'pg';
import { IS_CI, POSTGRES_SKIP_REASON, TEST_DATABASE_URL } from './env';

/** Checks once that a real PostgreSQL answers; without one the suites skip (or fail under CI). */
export default async function globalSetup(): Promise<void> {
  const client = new Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    const reason = `no PostgreSQL at ${TEST_DATABASE_URL.replace(/\/\/[^@]*@/, '//')} (${(err as Error).message})`;
    if (IS_CI) throw new Error(`CI=true and ${reason}`, { cause: err });
    process.env[POSTGRES_SKIP_REASON] = reason;
    process.stderr.write(`\n[postgres suites skipped] ${reason}\n`);
  } finally {
    await client.end().catch(() => undefined);
  }
}
