import type { Knex } from 'knex';

// knex-pglite ships CommonJS `export =`.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ClientPGLite = require('knex-pglite') as typeof Knex.Client;

type QueryObject = { method?: string };

/**
 * knex-pglite labels a result with its knex method name ("DEL", "COUNTER"), which knex's
 * PostgreSQL dialect does not recognise as DELETE/UPDATE, so `del()` resolved to the raw result
 * instead of the row count it gives on `pg`. Relabel first, so both databases answer alike.
 */
export class PgliteClient extends ClientPGLite {
  // Not in knex's public typings, but the dialect's documented extension point.
  processResponse(obj: QueryObject, runner: unknown): unknown {
    const relabelled = obj.method === 'del' ? { ...obj, method: 'delete' } : obj.method === 'counter' ? { ...obj, method: 'update' } : obj;
    const base = ClientPGLite.prototype as unknown as { processResponse(o: QueryObject, r: unknown): unknown };
    return base.processResponse.call(this, relabelled, runner);
  }
}
