// For the knex CLI (`node --import tsx node_modules/knex/bin/cli.js …`); the app and
// `npm run migrate` use src/storage/db.ts with the same migration source.
import { DirMigrationSource } from './src/storage/migration-source';

const config = {
  client: 'pg',
  connection: process.env.DATABASE_URL,
  migrations: { migrationSource: new DirMigrationSource() },
};

export default config;
