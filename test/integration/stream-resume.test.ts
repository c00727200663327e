import { describeDb } from '../support/test-db';
import { startTestServer, type TestServer } from '../support/test-server';
import { openStream, type TestStream } from '../support/sse-client';
import { pruneEvents } from '../../src/events/event-log';
import { sleep } from '../support/sleep';

describeDb('stream resume with Last-Event-ID', () => {
  let srv: TestServer;
  const streams: TestStream[] = [];
  beforeAll(async () => {
    srv = await startTestServer();
  });
  afterEach(() => streams.splice(0).forEach((s) => s.close()));
  afterAll(() => srv.stop());

  const open = async (o: Parameters<typeof openStream>[1]) => {
    const s = await openStream(srv.url, o);
    streams.push(s);
    return s;
  };
  const toUser = (user: string, n: number) => srv.publish({ type: 'test.event', audience: [`user:${user}`], payload: { n } });

  it('replays exactly the missed events in order, then continues live without duplicates', async () => {
    const token = srv.token('rita', 'client');
    const first = await open({ token });
    const [e1] = await toUser('rita', 1);
    await first.waitForCount(1);
    first.close();

    const missed = [(await toUser('rita', 2))[0], (await toUser('rita', 3))[0], (await toUser('rita', 4))[0]];
    await toUser('someone-else', 99);

    const resumed = await open({ token, lastEventId: first.events[0].id });
    await resumed.waitForCount(3);
    const [live] = await toUser('rita', 5);
    await resumed.waitForCount(4);
    await sleep(150);
    expect(first.ids).toEqual([e1.id]);
    expect(resumed.ids).toEqual([...missed.map((e) => e.id), live.id]);
    expect(resumed.events.map((e) => e.data.data.n)).toEqual([2, 3, 4, 5]);
    expect(resumed.events.some((e) => e.type === 'reset')).toBe(false);
  });

  it('accepts ?lastEventId= for clients that reopen the stream themselves, and the header wins over it', async () => {
    const token = srv.token('quinn', 'client');
    const [a] = await toUser('quinn', 1);
    const [b] = await toUser('quinn', 2);

    const viaQuery = await open({ token, queryLastEventId: a.id });
    await viaQuery.waitForCount(1);
    expect(viaQuery.ids).toEqual([b.id]);

    const both = await open({ token, queryLastEventId: '0', lastEventId: a.id });
    await both.waitForCount(1);
    await sleep(150);
    expect(both.ids).toEqual([b.id]);
  });

  it.each([
    ['newer than the newest id', '999999999'],
    ['malformed', 'not-an-id'],
    ['negative', '-5'],
    ['absurdly long', '9'.repeat(40)],
  ])('sends reset first for a cursor that is %s, then goes on live', async (_what, cursor) => {
    const token = srv.token('sam', 'provider');
    const current = await srv.settledLastId();
    const s = await open({ token, lastEventId: cursor });
    await s.waitFor((x) => x.events.length >= 1, 5_000, 'reset');
    const reset = s.events[0];
    expect(reset.type).toBe('reset');
    expect(reset.data).toEqual(expect.objectContaining({ lastEventId: current }));
    expect(reset.id).toBe(current);

    const [live] = await toUser('sam', 1);
    await s.waitForCount(1);
    expect(s.ids).toEqual([live.id]);
  });

  it('sends reset for a cursor older than the retained log, and replays from the prune boundary', async () => {
    const token = srv.token('tess', 'client');
    const [old] = await toUser('tess', 1);
    const [kept] = await toUser('tess', 2);
    // Prune everything up to and including `old` (everything older than a time just after it).
    const cutoff = new Date(old.occurredAt.getTime() + 1);
    await srv.db.database
      .knex('events')
      .where('id', '>', old.id)
      .update({ occurred_at: new Date(cutoff.getTime() + 1000) });
    expect(await pruneEvents(srv.db.database.knex, cutoff)).toBeGreaterThan(0);

    const tooOld = await open({ token, lastEventId: String(BigInt(old.id) - 1n) });
    await tooOld.waitFor((x) => x.events.length >= 1, 5_000, 'reset');
    expect(tooOld.events[0].type).toBe('reset');

    // Exactly at the boundary is still exact: nothing after it was pruned.
    const atBoundary = await open({ token, lastEventId: old.id });
    await atBoundary.waitForCount(1);
    await sleep(100);
    expect(atBoundary.events.map((e) => e.type)).not.toContain('reset');
    expect(atBoundary.ids).toEqual([kept.id]);
  });

  it('resumes by itself after the server drops the connection (the client sends its own Last-Event-ID)', async () => {
    const token = srv.token('uma', 'client');
    const s = await open({ token });
    const [a] = await toUser('uma', 1);
    await s.waitForCount(1);
    // Kill the socket from the server side, as a proxy or a deploy would.
    for (const sub of srv.running.services.registry.all()) if (sub.principal.userId === 'uma') sub.drop('shutdown');
    const [b] = await toUser('uma', 2);
    const [c] = await toUser('uma', 3);
    await s.waitForCount(3, 8_000);
    await sleep(150);
    expect(s.ids).toEqual([a.id, b.id, c.id]);
  });
});
