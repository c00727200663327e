/** A fresh database for each server the bench starts: a PostgreSQL database of its own, or embedded PGlite. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatabase, withoutCredentials } from '../test/support/postgres-admin';
import { assertNotAborting, onCleanup, type PrepareDatabase } from './procs';

export const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A temporary DATA_DIR (--embedded) or `bench_<random>` on PG_ADMIN_URL; dropped by cleanup however the run ends. */
export async function prepareDatabase(embedded: boolean): ReturnType<PrepareDatabase> {
  assertNotAborting();
  if (embedded) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-pglite-'));
    const drop = onCleanup(`remove ${dir}`, () => fs.rmSync(dir, { recursive: true, force: true }));
    return { env: { DATA_DIR: dir }, kind: 'pglite (embedded)', drop };
  }
  let created;
  try {
    created = await createDatabase('bench', PG_ADMIN_URL);
  } catch (err) {
    throw new Error(
      `cannot create a database on ${withoutCredentials(PG_ADMIN_URL)} (${(err as Error).message}); ` +
        'start PostgreSQL, set BENCH_PG_URL, or run with --embedded',
      { cause: err },
    );
  }
  const drop = onCleanup(`drop database ${created.name}`, () => created.drop());
  return { env: { DATABASE_URL: created.url }, kind: `postgresql (${created.name})`, drop };
}
