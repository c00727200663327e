import type { Knex } from 'knex';

/**
 * Runs `read` in one REPEATABLE READ, READ ONLY transaction: its first statement takes the
 * snapshot, and every statement after it sees that same one.
 */
export function inReadOnlySnapshot<T>(knex: Knex, read: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return knex.transaction(async (trx) => {
    await trx.raw('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    return read(trx);
  });
}
