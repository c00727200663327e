import { describeDb } from '../support/test-db';
import { startTestServer, type TestServer } from '../support/test-server';
import { openStream, type TestStream } from '../support/sse-client';
import { sleep } from '../support/sleep';

/** Ids received across several connections of one reader, checked for gaps and duplicates. */
function assertExactlyOnceInOrder(received: string[], expected: string[]) {
  expect(received).toEqual(expected);
}

describeDb('no event is lost between replay and live', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer();
  });
  afterAll(() => srv.stop());

  it('a publish racing a resume loses nothing and duplicates nothing (repeated)', async () => {
    const token = srv.token('racer', 'client');
    const publish = async (n: number) => (await srv.publish({ type: 'test.event', audience: ['user:racer'], payload: { n } }))[0].id;
    const expected: string[] = [await publish(0)];
    const received: string[] = [];
    let cursor = expected[0];
    received.push(cursor);

    for (let round = 0; round < 25; round++) {
      // Events committed while nobody listens, then a resume that races more publishes.
      expected.push(await publish(round * 10 + 1));
      const racing = Promise.all([publish(round * 10 + 2), publish(round * 10 + 3), publish(round * 10 + 4)]);
      const stream = await openStream(srv.url, { token, lastEventId: cursor });
      expected.push(...(await racing).sort((a, b) => Number(a) - Number(b)));
      expected.push(await publish(round * 10 + 5));
      await stream.waitFor((s) => s.ids.includes(expected[expected.length - 1]), 5_000, `round ${round}`);
      stream.close();
      received.push(...stream.ids);
      cursor = stream.ids[stream.ids.length - 1];
    }
    assertExactlyOnceInOrder(received, expected);
  });

  it('many concurrent writers and readers that keep dropping and resuming: every reader gets every event once, in order', async () => {
    const users = ['w1', 'w2', 'w3'];
    const writers = 6;
    const perWriter = 30;
    const all: string[] = [];

    // Readers: each user has a reader that reconnects with its last id every few events.
    const readers = users.map((u) => ({ user: u, received: [] as string[], done: false }));
    const readerLoops = readers.map(async (r) => {
      const token = srv.token(r.user, 'client');
      let cursor: string | undefined;
      while (!r.done) {
        const s: TestStream = await openStream(srv.url, { token, lastEventId: cursor ?? '0' });
        await sleep(20 + Math.random() * 60);
        s.close();
        r.received.push(...s.ids);
        if (s.ids.length) cursor = s.ids[s.ids.length - 1];
      }
      // A last resume collects whatever was committed after the final drop.
      const last = await openStream(srv.url, { token, lastEventId: cursor ?? '0' });
      return { last, r };
    });

    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; i < perWriter; i++) {
          // Each event goes to one or several users, and the transactions overlap.
          const audience = users.filter((_, k) => (w + i + k) % 2 === 0 || k === i % users.length).map((u) => `user:${u}` as const);
          const [e] = await srv.publish({ type: 'test.event', audience, payload: { w, i } });
          all.push(e.id);
        }
      }),
    );
    readers.forEach((r) => (r.done = true));
    const finals = await Promise.all(readerLoops);

    const rows: Array<{ id: string; audience: string[] }> = await srv.db.database.knex('events').select('id', 'audience').whereIn('id', all).orderBy('id');
    for (const { last, r } of finals) {
      const expected = rows.filter((row) => row.audience.includes(`user:${r.user}`)).map((row) => row.id);
      await last.waitFor((s) => [...r.received, ...s.ids].includes(expected[expected.length - 1]), 10_000, `${r.user} final`);
      last.close();
      assertExactlyOnceInOrder([...r.received, ...last.ids], expected);
    }
  });
});

describeDb('the committing instance', () => {
  let srv: TestServer;
  beforeAll(async () => {
    // The fallback poll reads the log on a timer; a minute apart, it cannot fall inside this test.
    srv = await startTestServer({ RELAY_POLL_MS: '60000' });
  });
  afterAll(() => srv.stop());

  it('hands a lone local commit to its streams without reading it back from the log', async () => {
    const stream = await openStream(srv.url, { token: srv.token('direct', 'client') });
    await srv.settledLastId();
    const logReads: string[] = [];
    const onQuery = (q: { sql: string }) => {
      if (/from "events"/i.test(q.sql)) logReads.push(q.sql);
    };
    srv.running.services.db.knex.on('query', onQuery);
    try {
      const [e] = await srv.publish({ type: 'test.event', audience: ['user:direct'], payload: {} });
      await stream.waitFor((s) => s.ids.includes(e.id), 5_000, 'the event');
      expect(logReads).toEqual([]);
    } finally {
      srv.running.services.db.knex.off('query', onQuery);
      stream.close();
    }
  });
});
