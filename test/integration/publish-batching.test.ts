import request from 'supertest';
import { describeDb, TEST_DB } from '../helpers/test-db';
import { startTestServer, type TestServer } from '../helpers/test-server';
import { openStream, type TestStream } from '../helpers/sse-client';
import { APPEND_LOCK_KEY } from '../../src/events/event-log';

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface LoggedEvent {
  id: string;
  type: string;
  audience: string[];
  payload: { title?: string; notification?: { title: string }; unreadCount?: number };
}

/*
 * Broadcasts that arrive while one is being written share the next transaction (EventPublisher's
 * group commit). What each caller and each recipient sees must be what one transaction per
 * broadcast would have given.
 */
describeDb('publishing: broadcasts that arrive together', () => {
  let srv: TestServer;
  let admin: string;
  const streams: TestStream[] = [];
  beforeAll(async () => {
    srv = await startTestServer();
    admin = srv.token('pb-admin', 'admin');
  });
  afterAll(async () => {
    for (const s of streams) s.close();
    await srv.stop();
  });

  const knex = () => srv.db.database.knex;
  const batching = () => srv.running.deps.publisher.batching;
  const broadcast = (body: object) => request(srv.url).post('/api/broadcasts').set('Authorization', `Bearer ${admin}`).send(body);
  const lockWaiters = async () => {
    const [row] = await knex()('pg_stat_activity').where({ datname: knex().raw('current_database()'), wait_event_type: 'Lock' }).count<{ c: string }[]>('* as c');
    return Number(row.c);
  };
  /**
   * On PostgreSQL: holds the append lock while `send` posts, until the first publish waits on it
   * and the other `n - 1` have queued behind it, so they are written as one batch after it.
   * PGlite has one connection, so there the publishes meet however they arrive.
   */
  const together = async <T>(n: number, send: () => Promise<T>): Promise<T> => {
    if (TEST_DB !== 'postgres') return send();
    const holder = await knex().transaction();
    await holder.raw('SELECT pg_advisory_xact_lock(?)', [APPEND_LOCK_KEY]);
    const sent = send();
    await waitUntil(async () => (await lockWaiters()) >= 1 && batching().queued >= n - 1);
    await holder.commit();
    return sent;
  };
  const eventsAfter = async (id: string): Promise<LoggedEvent[]> =>
    (await knex()('events').where('id', '>', id).orderBy('id').select('id', 'type', 'audience', 'payload')).map((r: LoggedEvent) => ({ ...r, id: String(r.id) }));
  const lastId = async () => String((await knex()('events').max<{ m: string | null }[]>('id as m'))[0].m ?? '0');

  it('each broadcast keeps its own events, in order and together in the log, with the notifications and counts of one transaction each', async () => {
    const users = ['pb-a', 'pb-b', 'pb-c'];
    for (const u of users) {
      await request(srv.url).get('/api/me').set('Authorization', `Bearer ${srv.token(u, 'client')}`).expect(200);
      const s = await openStream(srv.url, { token: srv.token(u, 'client') });
      await s.opened;
      streams.push(s);
    }
    const bodies = [
      { title: 'b0', body: 'x', userIds: ['pb-a'] },
      { title: 'b1', body: 'x', userIds: ['pb-a', 'pb-b'] },
      { title: 'b2', body: 'x', role: 'client' },
      { title: 'b3', body: 'x', userIds: ['pb-c', 'pb-nobody'] },
      { title: 'b4', body: 'x', userIds: ['pb-a'] },
      { title: 'b5', body: 'x', all: true },
      { title: 'b6', body: 'x', userIds: ['pb-b', 'pb-a'] },
      { title: 'b7', body: 'x', userIds: ['pb-a'] },
    ];
    const unreadBefore = Number((await request(srv.url).get('/api/notifications').set('Authorization', `Bearer ${srv.token('pb-a', 'client')}`)).body.unreadCount);
    const from = await lastId();
    const before = batching();
    const answers = await together(bodies.length, () => Promise.all(bodies.map(broadcast)));
    expect(answers.map((r) => r.status)).toEqual(bodies.map(() => 202));
    const after = batching();
    expect(after.publishes - before.publishes).toBe(bodies.length);
    expect(after.retriedAlone).toBe(before.retriedAlone);
    // The first met the held lock alone; the other seven waited for it and went out together.
    if (TEST_DB === 'postgres') expect(after.batches - before.batches).toBe(2);

    // In the log, each broadcast is its announcement followed by its own notifications, and nothing
    // of another broadcast in between.
    const logged = await eventsAfter(from);
    const titleOf = (e: LoggedEvent) => (e.type === 'announcement' ? e.payload.title : e.payload.notification?.title);
    const runs: Array<{ title: string | undefined; types: string[]; audiences: string[][] }> = [];
    for (const e of logged) {
      if (e.type === 'announcement') runs.push({ title: titleOf(e), types: [], audiences: [] });
      const run = runs[runs.length - 1];
      expect(titleOf(e)).toBe(run.title);
      run.types.push(e.type);
      run.audiences.push(e.audience);
    }
    expect(runs.map((r) => r.title).sort()).toEqual(bodies.map((b) => b.title));
    const expected: Record<string, string[][]> = {
      b0: [['user:pb-a'], ['user:pb-a']],
      b1: [['user:pb-a', 'user:pb-b'], ['user:pb-a'], ['user:pb-b']],
      b2: [['role:client'], ['role:client']],
      // Nobody by that id: no notification for them, though the announcement is addressed to them.
      b3: [['user:pb-c', 'user:pb-nobody'], ['user:pb-c']],
      b4: [['user:pb-a'], ['user:pb-a']],
      b5: [['all'], ['all']],
      b6: [['user:pb-b', 'user:pb-a'], ['user:pb-b'], ['user:pb-a']],
      b7: [['user:pb-a'], ['user:pb-a']],
    };
    for (const r of runs) expect([r.title, r.audiences]).toEqual([r.title, expected[r.title!]]);
    // Each caller got the id of its own announcement.
    for (const [i, res] of answers.entries()) {
      const own = logged.find((e) => e.id === String(res.body.eventId));
      expect([own?.type, own && titleOf(own)]).toEqual(['announcement', bodies[i].title]);
    }
    // pb-a's unread count in each of its notifications counts every notification of its inbox up
    // to that one in log order (its own and those to its role or to all): one transaction each.
    const seen: Array<[number | undefined, number]> = [];
    let inInbox = unreadBefore;
    for (const e of logged.filter((x) => x.type === 'notification.created')) {
      if (!e.audience.some((c) => ['user:pb-a', 'role:client', 'all'].includes(c))) continue;
      inInbox += 1;
      if (e.audience[0] === 'user:pb-a') seen.push([e.payload.unreadCount, inInbox]);
    }
    expect(seen).toHaveLength(5);
    expect(seen.map(([got]) => got)).toEqual(seen.map(([, want]) => want));

    // Every recipient's stream has exactly its events, once each, in id order.
    const to = await lastId();
    for (const [i, u] of users.entries()) {
      const mine = logged.filter((e) => e.audience.some((c) => c === `user:${u}` || c === 'role:client' || c === 'all')).map((e) => e.id);
      await streams[i].waitFor((s) => s.events.some((e) => e.id === to) || s.events.filter((e) => BigInt(e.id) > BigInt(from)).length >= mine.length, 5_000, `${u}'s events`);
      expect(streams[i].events.filter((e) => BigInt(e.id) > BigInt(from)).map((e) => e.id)).toEqual(mine);
    }
  });

  it('a publish that fails inside a batch fails alone: the others go out, it leaves nothing behind', async () => {
    // A real database error for one broadcast only, raised by PostgreSQL itself.
    await knex().raw(`
      CREATE FUNCTION refuse_poisoned_notification() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.title = 'poisoned' THEN RAISE EXCEPTION 'poisoned notification'; END IF;
        RETURN NEW;
      END $$`);
    await knex().raw(`CREATE TRIGGER refuse_poisoned BEFORE INSERT ON notifications FOR EACH ROW EXECUTE FUNCTION refuse_poisoned_notification()`);
    const titles = ['fine-0', 'fine-1', 'poisoned', 'fine-3', 'fine-4'];
    const from = await lastId();
    const before = batching();
    try {
      const answers = await together(titles.length, () => Promise.all(titles.map((title) => broadcast({ title, body: 'x', role: 'provider' }))));
      expect(answers.map((r) => r.status)).toEqual([202, 202, 500, 202, 202]);
      expect(answers[2].body.error.code).toBe('INTERNAL');
      if (TEST_DB === 'postgres') {
        expect(batching().retriedAlone - before.retriedAlone).toBe(1);
        expect(srv.logs.some((l) => l.code === 'PUBLISH_BATCH_RETRIED')).toBe(true);
      }
    } finally {
      await knex().raw('DROP TRIGGER refuse_poisoned ON notifications');
      await knex().raw('DROP FUNCTION refuse_poisoned_notification()');
    }
    const logged = await eventsAfter(from);
    const announced = logged.filter((e) => e.type === 'announcement').map((e) => e.payload.title);
    expect(announced.sort()).toEqual(['fine-0', 'fine-1', 'fine-3', 'fine-4']);
    expect(logged).toHaveLength(8);
    expect(await knex()('notifications').where({ title: 'poisoned' }).first()).toBeUndefined();
  });
});
