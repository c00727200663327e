import { Api } from '../../src/client/api';
import { TabFollower } from '../../src/client/tab-follower';
import type { EventEnvelope } from '../../src/client/types';
import { pruneEvents } from '../../src/events/event-log';
import { describeDb } from '../support/test-db';
import { startTestServer, type TestServer } from '../support/test-server';
import { until } from '../support/long-poll';
import { sampleData } from '../support/sample-events';

/*
 * A follower tab's cursor (src/client/tab-follower.ts) against a real server: what a leader tab
 * would hand it over the BroadcastChannel is handed here directly, in the order a leader sends it;
 * the gaps it must read itself come from the real GET /api/events. The browser suite
 * (test/browser/live-client.test.ts) runs it between real tabs.
 */

describeDb('a follower tab reads from the log what the leader was past when it joined', () => {
  let srv: TestServer;
  const followers: TabFollower[] = [];
  /** The polls the followers made: GET /api/events URLs. */
  const polls: string[] = [];
  let fetchBefore: typeof fetch;

  beforeAll(async () => {
    srv = await startTestServer();
    fetchBefore = globalThis.fetch;
    const checked = globalThis.fetch;
    globalThis.fetch = (input, init) => {
      const url = typeof input === 'string' || input instanceof URL ? String(input) : input.url;
      // The follower's reads (wait=0); the suite's own reads ask without `wait`.
      if (new URL(url).pathname === '/api/events' && new URL(url).searchParams.get('wait') === '0') polls.push(url);
      return checked(input, init);
    };
  });
  afterEach(() => {
    followers.splice(0).forEach((f) => f.stop());
    polls.length = 0;
  });
  afterAll(async () => {
    globalThis.fetch = fetchBefore;
    await srv.stop();
  });

  const follow = (sub: string, cursor: string | null, getToken: () => string = () => srv.token(sub, 'client')) => {
    const got: EventEnvelope[] = [];
    let resets = 0;
    const f = new TabFollower(new Api(srv.url, getToken), { event: (e) => got.push(e), reset: () => resets++ }, cursor);
    followers.push(f);
    return { f, got, ids: () => got.map((e) => e.id), resets: () => resets };
  };
  /** Publishes n events to `sub` and returns them as the leader's stream would carry them. */
  const publish = async (sub: string, n: number): Promise<EventEnvelope[]> => {
    const before = await srv.settledLastId();
    for (let i = 0; i < n; i++) await srv.publish({ type: 'booking.created', audience: [`user:${sub}`], payload: sampleData('booking.created') });
    const r = await new Api(srv.url, () => srv.token(sub, 'client')).poll(before);
    expect(r.events).toHaveLength(n);
    return r.events;
  };
  const settle = () => new Promise((r) => setTimeout(r, 300));

  it('reads the gap once, holds back what the leader hands it meanwhile, then applies only what the log did not give', async () => {
    const joinedAt = await srv.settledLastId();
    const [e1, e2, e3] = await publish('ada', 3);
    const t = follow('ada', joinedAt);
    // The leader answers the new tab's hello: it is past joinedAt. Then it hands on 2 again (a
    // copy of what the gap gives) and 3, which came after the leader's cursor.
    t.f.take({ k: 'sync', state: 'live', reason: 'hello', lastEventId: e2.id });
    t.f.take({ k: 'event', prev: e1.id, e: e2 });
    t.f.take({ k: 'event', prev: e2.id, e: e3 });
    expect(t.got).toEqual([]);
    await until(() => t.got.length >= 3, 5_000, 'the gap and what waited');
    await settle();
    expect(t.ids()).toEqual([e1.id, e2.id, e3.id]);
    expect(t.f.cursor).toBe(await srv.settledLastId());
    expect(polls.map((u) => new URL(u).searchParams.get('after'))).toEqual([joinedAt]);

    // From here on the leader's news joins on: applied as it comes, nothing read from the log.
    const [e4] = await publish('ada', 1);
    t.f.take({ k: 'event', prev: t.f.cursor, e: e4 });
    expect(t.ids()).toEqual([e1.id, e2.id, e3.id, e4.id]);
    expect(polls).toHaveLength(1);
    expect(t.resets()).toBe(0);
  });

  it('asks the log nothing when its state is ahead of the leader, and drops what its state covers', async () => {
    const [e1, e2] = await publish('bea', 2);
    // The tab's state was read after 2; the leader, slower, hands on 1 and 2 only now.
    const t = follow('bea', e2.id);
    t.f.take({ k: 'sync', state: 'live', reason: 'hello', lastEventId: null });
    t.f.take({ k: 'event', prev: null, e: e1 });
    t.f.take({ k: 'event', prev: e1.id, e: e2 });
    const [e3] = await publish('bea', 1);
    t.f.take({ k: 'event', prev: e2.id, e: e3 });
    await settle();
    expect(t.ids()).toEqual([e3.id]);
    expect(polls).toEqual([]);
  });

  it('finds a gap again when what the leader hands it starts past where its last read ended', async () => {
    const start = await srv.settledLastId();
    const t = follow('cal', start);
    const [e1] = await publish('cal', 1);
    t.f.take({ k: 'cursor', prev: start, lastEventId: start });
    t.f.take({ k: 'event', prev: start, e: e1 });
    expect(t.ids()).toEqual([e1.id]);
    // The leader's next news starts after an event this tab never heard of (say a message lost
    // while the leader changed): read from the log, not skipped.
    const [e2, e3] = await publish('cal', 2);
    t.f.take({ k: 'event', prev: e2.id, e: e3 });
    await until(() => t.got.length >= 3, 5_000, 'the second gap');
    await settle();
    expect(t.ids()).toEqual([e1.id, e2.id, e3.id]);
    expect(polls.map((u) => new URL(u).searchParams.get('after'))).toEqual([e1.id]);
  });

  it('without a cursor of its own, starts where the leader is', async () => {
    await publish('dot', 1);
    const t = follow('dot', null);
    const at = await srv.settledLastId();
    t.f.take({ k: 'sync', state: 'live', reason: 'hello', lastEventId: at });
    const [e1] = await publish('dot', 1);
    t.f.take({ k: 'event', prev: at, e: e1 });
    expect(t.ids()).toEqual([e1.id]);
    expect(polls).toEqual([]);
  });

  it('keeps what waits when a read fails, and reads again', async () => {
    const joinedAt = await srv.settledLastId();
    const [e1, e2] = await publish('eli', 2);
    let tokenCalls = 0;
    // The first ask for a token fails (the page's session store was busy, say): the read fails.
    const t = follow('eli', joinedAt, () => {
      if (tokenCalls++ === 0) throw new Error('no token yet');
      return srv.token('eli', 'client');
    });
    t.f.take({ k: 'sync', state: 'live', reason: 'hello', lastEventId: e1.id });
    t.f.take({ k: 'event', prev: e1.id, e: e2 });
    await until(() => t.got.length >= 2, 5_000, 'the read after the failure');
    await settle();
    expect(t.ids()).toEqual([e1.id, e2.id]);
    expect(tokenCalls).toBe(2);
  });

  it('drops a read under way when it stops following (to lead from its cursor)', async () => {
    const joinedAt = await srv.settledLastId();
    const [e1] = await publish('fin', 1);
    const t = follow('fin', joinedAt);
    t.f.take({ k: 'sync', state: 'live', reason: 'hello', lastEventId: e1.id });
    t.f.stop();
    await settle();
    expect(t.got).toEqual([]);
    expect(t.f.cursor).toBe(joinedAt);
  });

  it('tells the page to refetch when the log can no longer give the gap, and carries on from there', async () => {
    // A server of its own, polled first by the follower: its poll window (which would still answer
    // from memory what was pruned) starts after the gap, so the gap is the database's to answer.
    const own = await startTestServer();
    try {
      const joinedAt = await own.settledLastId();
      const publishOwn = async () => (await own.publish({ type: 'booking.created', audience: ['user:gus'], payload: sampleData('booking.created') }))[0].id;
      const e1 = await publishOwn();
      await publishOwn();
      expect(await pruneEvents(own.db.database.knex, new Date(Date.now() + 60_000))).toBeGreaterThan(0);
      const got: string[] = [];
      let resets = 0;
      const f = new TabFollower(new Api(own.url, () => own.token('gus', 'client')), { event: (e) => got.push(e.id), reset: () => resets++ }, joinedAt);
      followers.push(f);
      f.take({ k: 'sync', state: 'live', reason: 'hello', lastEventId: e1 });
      await until(() => resets === 1, 5_000, 'the reset');
      const resetAt = f.cursor!;
      expect(resetAt).toBe(await own.settledLastId());
      expect(got).toEqual([]);
      // The leader's news after the reset joins on.
      const e3 = await own.settledLastId().then(publishOwn);
      const [envelope] = (await new Api(own.url, () => own.token('gus', 'client')).poll(resetAt)).events;
      expect(envelope.id).toBe(e3);
      f.take({ k: 'event', prev: resetAt, e: envelope });
      expect(got).toEqual([e3]);
      expect(resets).toBe(1);
    } finally {
      await own.stop();
    }
  });
});
