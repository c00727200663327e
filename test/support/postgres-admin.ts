import crypto from 'node:crypto';
import { Client } from 'pg';
import { TEST_DATABASE_URL } from './env';

/*
 * Databases of their own on a shared PostgreSQL, for a test suite or a bench phase: created empty
 * under a random name and dropped by force (a server that still holds connections does not stop
 * the drop).
 */

/** One statement on the admin connection (`postgres` database), which is closed at once. */
export async function adminQuery(sql: string, adminUrl = TEST_DATABASE_URL): Promise<void> {
  const client = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The same server and credentials as `url`, another database. */
export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** The admin URL without its credentials, for messages. */
export const withoutCredentials = (url: string): string => url.replace(/\/\/[^@]*@/, '//');

export interface CreatedDatabase {
  name: string;
  /** A connection string for it. */
  url: string;
  drop(): Promise<void>;
}

/** A new, empty database `<prefix>_<random>`; `drop` removes it even while connections are open. */
export async function createDatabase(prefix: string, adminUrl = TEST_DATABASE_URL): Promise<CreatedDatabase> {
  const name = `${prefix}_${crypto.randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`, adminUrl);
  return { name, url: withDatabase(adminUrl, name), drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`, adminUrl) };
}
