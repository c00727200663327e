import { createTestDatabase, describeDb, type TestDatabase } from '../helpers/test-db';
import { createUserSync } from '../../src/users/user-sync';
import { findUser } from '../../src/users/user-repository';

describeDb('user sync (claims written on first sight, batched per event-loop turn)', () => {
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
