import { describeDb } from '../support/test-db';
import { startTestServer, type TestServer } from '../support/test-server';
import { PollWindow } from '../../src/realtime/poll-window';
import { appendEvents, pruneEvents } from '../../src/events/event-log';
import { eventRetention } from '../../src/events/retention';
import { channelsFor } from '../../src/events/audience';
import type { ChannelName } from '../../src/events/event-types';

/*
 * The window on the real log, with a small capacity so that its edges are reached. The route's
 * own behaviour (fallback to the log, resets) is in polling.test.ts.
 */
describeDb('PollWindow: the recent log in memory for polls', () => {
  let srv: TestServer;
  beforeAll(async () => {
    // A minute between fallback polls: the relay moves only when a test makes it.
    srv = await startTestServer({ RELAY_POLL_MS: '60000' });
    // No NOTIFY wake-ups either: "committed elsewhere, not yet heard of here" stays that way.
    await srv.running.services.listener?.stop();
  });
  afterAll(() => srv.stop());

  const knex = () => srv.running.services.db.knex;
  const dispatched = () => srv.running.services.relay.dispatchedId;
  const window = (capacity = 3) => new PollWindow(knex(), dispatched, capacity);
  const ann = (title: string) => ({ type: 'test.event', audience: ['all' as ChannelName], payload: { title } });
  const to = (user: string) => ({ type: 'test.event', audience: [`user:${user}` as ChannelName], payload: { user } });
  const ids = (page: { events: Array<{ id: string }> } | undefined) => page?.events.map((e) => e.id);
  const ch = (user: string) => channelsFor({ userId: user, role: 'client' });

  it('starts where the relay is: older cursors are left to the log, the current one gets an empty page', async () => {
    await srv.publish(ann('before'));
    const start = await srv.settledLastId();
    const w = window();
    expect(await w.page(String(BigInt(start) - 1n), ch('ann'), 10)).toBeUndefined();
    expect(await w.page(start, ch('ann'), 10)).toEqual({ events: [], lastEventId: start, hasMore: false });
  });

  it('serves each user only what is addressed to them, in order, through the relay position', async () => {
    const start = await srv.settledLastId();
    const w = window(10);
    await w.page(start, ch('wa'), 10);
    const [a1] = await srv.publish(to('wa'));
    await srv.publish(to('wb'));
    const [all] = await srv.publish(ann('both'));
    const last = await srv.settledLastId();
    expect(await w.page(start, ch('wa'), 10)).toEqual({ events: [a1, all], lastEventId: last, hasMore: false });
    expect(ids(await w.page(start, ch('wb'), 10))).not.toContain(a1.id);
    // Paging: the cursor of a full page is its last event, and the next page continues there.
    expect(await w.page(start, ch('wa'), 1)).toEqual({ events: [a1], lastEventId: a1.id, hasMore: true });
    expect(await w.page(a1.id, ch('wa'), 1)).toEqual({ events: [all], lastEventId: last, hasMore: false });
  });

  /** What `fn` sends to the database meanwhile. */
  const queriesDuring = async <T>(fn: () => Promise<T>): Promise<{ result: T; sql: string[] }> => {
    const sql: string[] = [];
    const count = (q: { sql: string }) => sql.push(q.sql);
    knex().on('query', count);
    try {
      return { result: await fn(), sql };
    } finally {
      knex().off('query', count);
    }
  };

  it('holds each run the relay dispatches, so the polls it wakes answer without reading the log', async () => {
    const w = srv.running.services.pollWindow;
    const start = await srv.settledLastId();
    await w.page(start, ch('ext'), 10);
    const [mine] = await srv.publish(to('ext'));
    const [other] = await srv.publish(to('ext-other'));
    // Committed elsewhere: this one comes through the relay's read of the log, not its own commit.
    const [elsewhere] = await knex().transaction((trx) => appendEvents(trx, [to('ext')]));
    const last = await srv.settledLastId();
    expect(last).toBe(elsewhere.id);
    const { result, sql } = await queriesDuring(async () => [await w.page(start, ch('ext'), 10), await w.page(start, ch('ext-other'), 10)]);
    expect(result[0]).toEqual({ events: [mine, elsewhere], lastEventId: last, hasMore: false });
    expect(ids(result[1])).toEqual([other.id]);
    expect(sql).toEqual([]);
  });

  it('leaves out a run that does not continue it, and reads the log instead', async () => {
    const start = await srv.settledLastId();
    const w = window(10);
    await w.page(start, ch('gapped'), 10);
    const [e1] = await srv.publish(to('gapped'));
    const [e2] = await srv.publish(to('gapped'));
    await srv.settledLastId();
    // Handed (e1, e2] while it ends at `start`: holding it would skip e1.
    w.append(e1.id, [e2]);
    expect(ids(await w.page(start, ch('gapped'), 10))).toEqual([e1.id, e2.id]);
  });

  it('rises above what another instance pruned at the relay’s next read, without a read of its own', async () => {
    const w = srv.running.services.pollWindow;
    const start = await srv.settledLastId();
    await w.page(start, ch('far'), 10);
    const [old] = await srv.publish(to('far'));
    await srv.settledLastId();
    expect(ids(await w.page(start, ch('far'), 10))).toEqual([old.id]);
    await pruneEvents(knex(), new Date(Date.now() + 60_000));
    // Nothing committed since: the relay's read (its fallback poll) brings only the bound.
    await srv.running.services.relay.settle();
    const { result, sql } = await queriesDuring(() => w.page(start, ch('far'), 10));
    expect(result).toBeUndefined();
    expect(sql).toEqual([]);
    expect(await w.page(old.id, ch('far'), 10)).toEqual({ events: [], lastEventId: old.id, hasMore: false });
  });

  it('rises at once above what retention here pruned, before the relay reads again', async () => {
    const w = window(10);
    const start = await srv.settledLastId();
    await w.page(start, ch('near'), 10);
    const [old] = await srv.publish(to('near'));
    await srv.settledLastId();
    w.append(start, [old]);
    // Everything up to a minute from now is past retention.
    await eventRetention({ knex: knex(), retentionHours: -1 / 60, prunedThrough: (through) => w.prunedThrough(through) })();
    expect(await w.page(start, ch('near'), 10)).toBeUndefined();
    expect(ids(await w.page(old.id, ch('near'), 10))).toEqual([]);
  });

  it('never answers past what the relay has dispatched, nor a cursor ahead of it', async () => {
    const start = await srv.settledLastId();
    const w = window(10);
    await w.page(start, ch('late'), 10);
    // Committed by another writer (another instance): this relay has not heard of it.
    const [elsewhere] = await knex().transaction((trx) => appendEvents(trx, [to('late')]));
    expect(dispatched()).toBe(start);
    expect(await w.page(start, ch('late'), 10)).toEqual({ events: [], lastEventId: start, hasMore: false });
    expect(await w.page(elsewhere.id, ch('late'), 10)).toBeUndefined();
    await srv.running.services.relay.settle();
    expect(ids(await w.page(start, ch('late'), 10))).toEqual([elsewhere.id]);
  });

  it('after a gap larger than itself, keeps only the newest events and leaves older cursors to the log', async () => {
    const start = await srv.settledLastId();
    const w = window(3);
    await w.page(start, ch('gap'), 10);
    const published = [];
    for (let i = 0; i < 5; i++) published.push((await srv.publish(to('gap')))[0].id);
    await srv.settledLastId();
    expect(await w.page(start, ch('gap'), 10)).toBeUndefined();
    expect(await w.page(published[1], ch('gap'), 10)).toBeUndefined();
    expect(ids(await w.page(published[2], ch('gap'), 10))).toEqual(published.slice(3));
  });

  it('drops its oldest events beyond its capacity, and their cursors go to the log', async () => {
    const start = await srv.settledLastId();
    const w = window(3);
    await w.page(start, ch('cap'), 10);
    const published = [];
    for (let i = 0; i < 5; i++) {
      published.push((await srv.publish(to('cap')))[0].id);
      await srv.settledLastId();
      await w.page(published[published.length - 1], ch('cap'), 10);
    }
    expect(await w.page(published[0], ch('cap'), 10)).toBeUndefined();
    expect(ids(await w.page(published[1], ch('cap'), 10))).toEqual(published.slice(2));
  });

  it('rises above what retention pruned, as soon as it next reads', async () => {
    const start = await srv.settledLastId();
    const w = window(10);
    await w.page(start, ch('old'), 10);
    const [old] = await srv.publish(to('old'));
    await srv.settledLastId();
    expect(ids(await w.page(start, ch('old'), 10))).toEqual([old.id]);
    await pruneEvents(knex(), new Date(Date.now() + 60_000));
    const [fresh] = await srv.publish(to('old'));
    await srv.settledLastId();
    expect(await w.page(start, ch('old'), 10)).toBeUndefined();
    expect(ids(await w.page(old.id, ch('old'), 10))).toEqual([fresh.id]);
  });
});
