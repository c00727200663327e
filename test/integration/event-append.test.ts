import { describeDb, TEST_DB } from '../support/test-db';
import { startTestServer, type TestServer } from '../support/test-server';
import { appendEvents } from '../../src/events/event-log';
import type { NewEvent } from '../../src/events/event-types';
import { OutboxRelay } from '../../src/events/outbox-relay';

/**
 * appendEvents takes the append lock inside its insert (one round trip): the lock must still be
 * held from before the first id is drawn until commit, or a reader could see id N and later miss
 * a smaller id committed after it.
 */
describeDb('appending events', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer();
  });
  afterAll(() => srv.stop());
  const knex = () => srv.db.database.knex;
  const ev = (type: string, payload: unknown): NewEvent => ({ type, audience: ['all'], payload });

  it('gives ids in the order given, keeps payloads as JSON (null and arrays too), and holds the lock until commit', async () => {
    await knex().transaction(async (trx) => {
      const written = await appendEvents(trx, [ev('t.first', { a: 1 }), ev('t.second', null), ev('t.third', [1, 'x'])]);
      expect(written.map((e) => [e.type, e.payload])).toEqual([
        ['t.first', { a: 1 }],
        ['t.second', null],
        ['t.third', [1, 'x']],
      ]);
      expect(BigInt(written[0].id) < BigInt(written[1].id) && BigInt(written[1].id) < BigInt(written[2].id)).toBe(true);
      const { rows } = await trx.raw(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted`);
      expect(rows[0].n).toBe(1);
    });
  });

  // PGlite serves one connection at a time: a second transaction cannot be open beside the first.
  const withTwoConnections =
    TEST_DB === 'postgres' ? it : (name: string, fn: jest.ProvidesCallback) => it.skip(`${name} [not applicable: PGlite has one connection]`, fn);
  withTwoConnections('makes a second appender wait for the first to commit, so ids commit in order', async () => {
    const first = await knex().transaction();
    const [a] = await appendEvents(first, [ev('t.held', {})]);
    let secondId: string | undefined;
    const second = knex().transaction(async (trx) => {
      const [b] = await appendEvents(trx, [ev('t.waiting', {})]);
      secondId = b.id;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(secondId).toBeUndefined();
    await first.commit();
    await second;
    expect(BigInt(secondId!) > BigInt(a.id)).toBe(true);
  });
});

describeDb('the committing instance dispatching its own events', () => {
  let srv: TestServer;
  beforeAll(async () => {
    // No fallback poll during the test: only offer() and what it pokes move the relay.
    srv = await startTestServer({ RELAY_POLL_MS: '60000' });
  });
  afterAll(() => srv.stop());

  it('does not let a personal event overtake a fan-out still waiting for its turn', async () => {
    const knex = srv.db.database.knex;
    const delivered: string[] = [];
    const relay = new OutboxRelay(knex, (events) => delivered.push(...events.map((e) => e.id)), srv.running.services.logger, 60_000);
    await relay.start();
    const commit = (audience: NewEvent['audience']) => knex.transaction((trx) => appendEvents(trx, [{ type: 'test.event', audience, payload: {} }]));
    const [fanOut] = await commit(['all']);
    const [personal] = await commit(['user:overtaker']);
    relay.offer([fanOut]);
    // The fan-out waits for setImmediate; the personal event, offered now, finds it missing below
    // itself, so it is not delivered alone: the relay reads the log instead.
    relay.offer([personal]);
    expect(delivered).toEqual([]);
    await relay.settle();
    await new Promise((resolve) => setImmediate(resolve));
    expect(delivered).toEqual([fanOut.id, personal.id]);
    relay.stop();
  });
});
