import fs from 'node:fs';
import { PGlite, types } from '@electric-sql/pglite';
import { openDatabase, type Database } from '../../src/storage/db';
import { PGLITE_TEMPLATE_FILE, POSTGRES_SKIP_REASON } from './env';
import { createDatabase } from './postgres-admin';
import { describeIfAvailable } from './skip';

export type TestDbKind = 'pglite' | 'postgres';
export const TEST_DB: TestDbKind = process.env.TEST_DB === 'postgres' ? 'postgres' : 'pglite';

/** Why this project's suites cannot run here, or undefined when they can. */
export const dbSkipReason: string | undefined = TEST_DB === 'postgres' ? process.env[POSTGRES_SKIP_REASON] : undefined;

/** `describe` that skips, saying why, when the database of this project is missing. */
export const describeDb = describeIfAvailable(dbSkipReason);

/**
 * `describe` for suites of several instances or processes on one PostgreSQL: not applicable to
 * the embedded database, which belongs to one process.
 */
export const describeSharedDb = describeIfAvailable(dbSkipReason, TEST_DB === 'postgres' ? undefined : "PGlite is one process's database");

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
  const created = await createDatabase('rt_test');
  const database = await openDatabase({ databaseUrl: created.url });
  return {
    database,
    url: created.url,
    drop: async () => {
      await database.close();
      await created.drop();
    },
  };
}
