import fs from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';

/** Where the migrations live, from both `src/storage` (tsx) and `dist/src/storage` (compiled). */
export const MIGRATIONS_DIR = path.resolve(__dirname, '..', '..', 'migrations');

/**
 * Names migrations without their extension, so a database migrated by the TypeScript sources
 * (tsx, tests) and later by the compiled JavaScript (production) shares one history.
 */
export class DirMigrationSource implements Knex.MigrationSource<string> {
  constructor(private readonly dir = MIGRATIONS_DIR) {}

  // eslint-disable-next-line @typescript-eslint/require-await -- Knex.MigrationSource wants a promise; a throw becomes its rejection
  async getMigrations(): Promise<string[]> {
    return fs
      .readdirSync(this.dir)
      .filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts'))
      .sort();
  }

  getMigrationName(file: string): string {
    return file.replace(/\.(ts|js)$/, '');
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- Knex.MigrationSource wants a promise; a throw becomes its rejection
  async getMigration(file: string): Promise<Knex.Migration> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(path.join(this.dir, file)) as Knex.Migration;
  }
}
