import path from 'node:path';
import fs from 'node:fs';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { DirMigrationSource } from './migration-source';
import { PgliteClient } from './pglite-client';
import { lockDataDir } from './data-dir-lock';

/** A query runner: the pool itself or a transaction. Repositories accept either. */
export type Db = Knex | Knex.Transaction;

export interface Database {
  knex: Knex;
  kind: 'postgres' | 'pglite';
  /** Resolves when every migration has run. */
  migrate(): Promise<void>;
  /** True when the schema is at the latest migration. */
  isMigrated(): Promise<boolean>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl?: string;
  dataDir?: string;
  /** For tests: an already-open PGlite instance (e.g. loaded from a template). */
  pglite?: import('@electric-sql/pglite').PGlite;
  poolMax?: number;
}

// bigint columns (event ids) come back as decimal strings on both drivers, never as lossy numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);

const migrationConfig = () => ({ migrationSource: new DirMigrationSource() });

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  let knex: Knex;
  let kind: Database['kind'];
  let releaseLock = () => {};
  if (opts.databaseUrl) {
    kind = 'postgres';
    knex = knexFactory({
      client: 'pg',
      connection: { connectionString: opts.databaseUrl, keepAlive: true },
      pool: { min: 0, max: opts.poolMax ?? 10 },
      acquireConnectionTimeout: 10_000,
      migrations: migrationConfig(),
    });
  } else {
    kind = 'pglite';
    let pglite = opts.pglite;
    if (!pglite) {
      const dir = path.join(opts.dataDir ?? './.data', 'pg');
      fs.mkdirSync(dir, { recursive: true });
      releaseLock = lockDataDir(`${dir}.lock`);
      pglite = await openPglite(dir).catch((err) => {
        releaseLock();
        throw err;
      });
    }
    knex = knexFactory({
      client: PgliteClient,
      // The connection type has no field for an existing instance.
      connection: { pglite } as unknown as Knex.StaticConnectionConfig,
      acquireConnectionTimeout: 30_000,
      migrations: migrationConfig(),
    });
  }
  return {
    knex,
    kind,
    migrate: async () => {
      await knex.migrate.latest();
    },
    isMigrated: async () => {
      const [, pending] = (await knex.migrate.list()) as [unknown[], unknown[]];
      return pending.length === 0;
    },
    close: async () => {
      await knex.destroy();
      releaseLock();
    },
  };
}

export async function openPglite(dir: string): Promise<import('@electric-sql/pglite').PGlite> {
  const { PGlite, types } = await import('@electric-sql/pglite');
  return PGlite.create(dir, { parsers: { [types.INT8]: (v: string) => v } });
}
