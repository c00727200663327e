import fs from 'node:fs';
import crypto from 'node:crypto';
import { Client } from 'pg';
import { PGlite, types } from '@electric-sql/pglite';
import { openDatabase, type Database } from '../../src/storage/db';
import { PGLITE_TEMPLATE_FILE, POSTGRES_SKIP_REASON, TEST_DATABASE_URL } from './env';

export type TestDbKind = 'pglite' | 'postgres';
export const TEST_DB: TestDbKind = process.env.TEST_DB === 'postgres' ? 'postgres' : 'pglite';

/** Why this project's suites cannot run here, or undefined when they can. */
export const dbSkipReason: string | undefined = TEST_DB === 'postgres' ? process.env[POSTGRES_SKIP_REASON] : undefined;

/** `describe` that skips, saying why, when the database of this project is missing. */
export const describeDb: jest.Describe = dbSkipReason
  ? (((name: string, fn: () => void) => describe.skip(`${name} [skipped: ${dbSkipReason}]`, fn)) as unknown as jest.Describe)
  : describe;

/**
 * `describe` for suites of several instances or processes on one PostgreSQL: skipped, saying why,
 * on the embedded database, which belongs to one process.
 */
export const describeSharedDb: jest.Describe =
  TEST_DB === 'postgres'
    ? describeDb
    : (((name: string, fn: () => void) => describe.skip(`${name} [not applicable: PGlite is one process's database]`, fn)) as unknown as jest.Describe);

export interface TestDatabase {
  database: Database;
  /** A connection string for child processes (PostgreSQL only). */
  url?: string;
  drop(): Promise<void>;
}

/** A private, migrated database for one suite: a PGlite copy of the template, or a new PG database. */
export async function createTestDatabase(): Promise<TestDatabase> {
  if (TEST_DB === 'pglite') {
    const file = process.env[PGLITE_TEMPLATE_FILE];
    if (!file) throw new Error('PGlite template missing: run through jest (globalSetup)');
    const pglite = await PGlite.create({
      loadDataDir: new Blob([fs.readFileSync(file)]),
      parsers: { [types.INT8]: (v: string) => v },
    });
    const database = await openDatabase({ pglite });
    return { database, drop: () => database.close() };
  }
  const name = `rt_test_${crypto.randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = withDatabase(TEST_DATABASE_URL, name);
  const database = await openDatabase({ databaseUrl: url });
  return {
    database,
    url,
    drop: async () => {
      await database.close();
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

export async function adminQuery(sql: string): Promise<void> {
  const client = new Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}
