import { createTestDatabase, describeDb, TEST_DB, type TestDatabase } from '../support/test-db';
import { createUserSync } from '../../src/users/user-sync';
import { findUser } from '../../src/users/user-repository';

describeDb('user sync (claims written on first sight, batched per event-loop turn and while a write is in flight)', () => {
  let db: TestDatabase;
  const inserts: string[] = [];
  const onQuery = (q: { sql: string }) => {
    if (/insert into "users"/i.test(q.sql)) inserts.push(q.sql);
  };
  beforeAll(async () => {
    db = await createTestDatabase();
    await db.database.migrate();
    db.database.knex.on('query', onQuery);
  });
  afterAll(async () => {
    db.database.knex.off('query', onQuery);
    await db.drop();
  });
  beforeEach(() => {
    inserts.length = 0;
  });

  it('writes a reconnect storm of new users as one statement, and each request waits for it', async () => {
    const sync = createUserSync(db.database.knex);
    const ids = Array.from({ length: 50 }, (_, i) => `storm-${i}`);
    await Promise.all(ids.map((userId) => sync({ userId, role: 'client', name: `Storm ${userId}` })));
    expect(inserts).toHaveLength(1);
    for (const id of ids) expect(await findUser(db.database.knex, id)).toEqual(expect.objectContaining({ id, role: 'client', name: `Storm ${id}` }));
  });

  it('splits a storm larger than one statement should carry into statements of 1,000 users', async () => {
    const sync = createUserSync(db.database.knex);
    const ids = Array.from({ length: 2_500 }, (_, i) => `big-storm-${i}`);
    await Promise.all(ids.map((userId) => sync({ userId, role: 'provider' })));
    expect(inserts).toHaveLength(3);
    const { rows } = await db.database.knex.raw(`SELECT count(*)::int AS n FROM users WHERE id LIKE 'big-storm-%'`);
    expect(rows[0].n).toBe(2_500);
  });

  // PGlite serves one connection at a time: the lock below would hold the only one.
  const withTwoConnections =
    TEST_DB === 'postgres' ? it : (name: string, fn: jest.ProvidesCallback) => it.skip(`${name} [not applicable: PGlite has one connection]`, fn);
  withTwoConnections('writes the first sights that arrive while a write is in flight as one statement after it', async () => {
    const knex = db.database.knex;
    const sync = createUserSync(knex);
    // Holds the first upsert in flight (EXCLUSIVE conflicts with the insert's ROW EXCLUSIVE).
    const blocker = await knex.transaction();
    await blocker.raw('LOCK TABLE users IN EXCLUSIVE MODE');
    const waiting = [sync({ userId: 'flight-0', role: 'client' })];
    try {
      while (inserts.length === 0) await new Promise((r) => setImmediate(r));
      // Reconnects spread over time: one per turn of the event loop.
      for (let i = 1; i <= 20; i++) {
        waiting.push(sync({ userId: `flight-${i}`, role: 'client' }));
        await new Promise((r) => setImmediate(r));
      }
      expect(inserts).toHaveLength(1);
    } finally {
      await blocker.commit();
    }
    await Promise.all(waiting);
    expect(inserts).toHaveLength(2);
    for (let i = 0; i <= 20; i++) expect(await findUser(knex, `flight-${i}`)).toEqual(expect.objectContaining({ role: 'client' }));
  });

  it('writes again only when the claims change; the later of two claims in one turn wins', async () => {
    const sync = createUserSync(db.database.knex);
    await sync({ userId: 'same', role: 'provider', name: 'First' });
    await sync({ userId: 'same', role: 'provider', name: 'First' });
    expect(inserts).toHaveLength(1);
    await Promise.all([sync({ userId: 'same', role: 'provider', name: 'Second' }), sync({ userId: 'same', role: 'provider', name: 'Third' })]);
    expect(inserts).toHaveLength(2);
    expect((await findUser(db.database.knex, 'same'))?.name).toBe('Third');
  });
});
