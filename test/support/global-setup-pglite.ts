import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PGlite, types } from '@electric-sql/pglite';
import { openDatabase } from '../../src/storage/db';
import { PGLITE_TEMPLATE_FILE } from './env';

/**
 * initdb costs seconds per PGlite instance; do it (and the migrations) once, and let each suite
 * load a copy of the resulting data directory.
 */
export default async function globalSetup(): Promise<void> {
  const pglite = await PGlite.create('memory://', { parsers: { [types.INT8]: (v: string) => v } });
  const db = await openDatabase({ pglite });
  await db.migrate();
  const dump = await pglite.dumpDataDir('none');
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rt-pglite-')), 'template.tar');
  fs.writeFileSync(file, Buffer.from(await dump.arrayBuffer()));
  await db.close();
  process.env[PGLITE_TEMPLATE_FILE] = file;
}
