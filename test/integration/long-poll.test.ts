import request from 'supertest';
import { describeDb } from '../support/test-db';
import { startTestServer, type TestServer } from '../support/test-server';
import { openStream, type TestStream } from '../support/sse-client';
import { longPoll, until } from '../support/long-poll';
import { appendEvents } from '../../src/events/event-log';

const ids = (body: { events: Array<{ id: string }> }) => body.events.map((e) => e.id);

describeDb('long polling GET /api/events?after=&wait=', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ POLL_INTERVAL_MS: '60000', POLL_MAX_WAIT_S: '20', LONG_POLLS_PER_USER_MAX: '5' });
  });
  afterAll(() => srv.stop());

  const held = () => srv.running.services.heldPolls.counts().held;
  const cursorNow = async (token: string) => (await request(srv.url).get('/api/events').set('Authorization', `Bearer ${token}`)).body.lastEventId as string;

  it('holds until an event for the caller commits, then answers at once with it; others’ events do not wake it', async () => {
    const token = srv.token('lena', 'client');
    const after = await cursorNow(token);
    const poll = longPoll(srv.url, token, { after, wait: 15 });
    await until(() => held() === 1, 5_000, 'the poll to be held');
    await srv.publish({ type: 'test.event', audience: ['user:someone-else'], payload: {} });
    await srv.settledLastId();
    // Another user's event went by: still held.
    await new Promise((r) => setTimeout(r, 100));
    expect(held()).toBe(1);
    expect((await request(srv.url).get('/api/status')).body.longPolls).toEqual({ held: 1, users: 1 });

    const [mine] = await srv.publish({ type: 'test.event', audience: ['user:lena'], payload: { n: 1 } });
    const { status, body, tookMs } = await poll.answer;
    expect(status).toBe(200);
    expect(ids(body)).toEqual([mine.id]);
    expect(body).toEqual(expect.objectContaining({ lastEventId: mine.id, hasMore: false, reset: false, pollIntervalMs: 60000 }));
    expect(body.events[0]).toEqual({ id: mine.id, type: 'test.event', occurredAt: mine.occurredAt.toISOString(), data: { n: 1 } });
    expect(tookMs).toBeLessThan(10_000);
    expect(held()).toBe(0);
  });

  it('wakes for an event addressed to its role or to all, as a stream would', async () => {
    const token = srv.token('rolf', 'provider');
    const after = await cursorNow(token);
    const poll = longPoll(srv.url, token, { after, wait: 15 });
    await until(() => held() === 1);
    const [e] = await srv.publish({ type: 'test.event', audience: ['role:provider'], payload: {} });
    expect(ids((await poll.answer).body)).toEqual([e.id]);
  });

  it('answers at once, without holding, when there is something already', async () => {
    const token = srv.token('quick', 'client');
    const after = await cursorNow(token);
    const [e] = await srv.publish({ type: 'test.event', audience: ['user:quick'], payload: {} });
    await srv.settledLastId();
    const { body, tookMs } = await longPoll(srv.url, token, { after, wait: 15 }).answer;
    expect(ids(body)).toEqual([e.id]);
    expect(tookMs).toBeLessThan(5_000);
  });

  it('answers empty when the wait runs out, with the cursor moved past others’ events', async () => {
    const token = srv.token('tim', 'client');
    const after = await cursorNow(token);
    const poll = longPoll(srv.url, token, { after, wait: 1 });
    await until(() => held() === 1);
    await srv.publish({ type: 'test.event', audience: ['user:not-tim'], payload: {} });
    const last = await srv.settledLastId();
    const { status, body, tookMs } = await poll.answer;
    expect(status).toBe(200);
    expect(body).toEqual({ events: [], lastEventId: last, hasMore: false, reset: false, pollIntervalMs: 60000 });
    expect(tookMs).toBeGreaterThanOrEqual(900);
    expect(held()).toBe(0);
  });

  it('waits no longer than POLL_MAX_WAIT_S whatever the client asks (here 1 s)', async () => {
    const short = await startTestServer({ POLL_MAX_WAIT_S: '1' }, undefined);
    try {
      const token = short.token('max', 'client');
      const after = (await request(short.url).get('/api/events').set('Authorization', `Bearer ${token}`)).body.lastEventId;
      const { body, tookMs } = await longPoll(short.url, token, { after, wait: 3600 }).answer;
      expect(body.events).toEqual([]);
      expect(tookMs).toBeGreaterThanOrEqual(900);
      expect(tookMs).toBeLessThan(3_000);
    } finally {
      await short.stop();
    }
  });

  it('answers a reset at once for a cursor it cannot honour', async () => {
    const token = srv.token('rex', 'client');
    const last = await srv.settledLastId();
    const { body, tookMs } = await longPoll(srv.url, token, { after: '99999999999', wait: 15 }).answer;
    expect(body).toEqual(expect.objectContaining({ events: [], reset: true, lastEventId: last }));
    expect(tookMs).toBeLessThan(5_000);
  });

  it('frees a held poll whose client went away', async () => {
    const token = srv.token('gone', 'client');
    const after = await cursorNow(token);
    const poll = longPoll(srv.url, token, { after, wait: 15 });
    await until(() => held() === 1);
    poll.abort();
    await until(() => held() === 0, 5_000, 'the held poll to be freed');
    expect(srv.running.services.heldPolls.counts()).toEqual({ held: 0, users: 0 });
    // Its user's events go nowhere and break nothing.
    await srv.publish({ type: 'test.event', audience: ['user:gone'], payload: {} });
    await srv.settledLastId();
  });

  it('holds at most LONG_POLLS_PER_USER_MAX per user: 429 TOO_MANY_POLLS past it, others unaffected', async () => {
    const token = srv.token('greedy', 'client');
    const after = await cursorNow(token);
    const polls = Array.from({ length: 5 }, () => longPoll(srv.url, token, { after, wait: 15 }));
    await until(() => held() === 5);
    const refused = await longPoll(srv.url, token, { after, wait: 15 }).answer;
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('TOO_MANY_POLLS');
    // A short poll is not held, so it is not limited by it.
    expect((await longPoll(srv.url, token, { after }).answer).status).toBe(200);
    const other = longPoll(srv.url, srv.token('modest', 'client'), { after, wait: 15 });
    await until(() => held() === 6);
    const [e] = await srv.publish({ type: 'test.event', audience: ['user:greedy', 'user:modest'], payload: {} });
    for (const p of [...polls, other]) expect(ids((await p.answer).body)).toEqual([e.id]);
    expect(held()).toBe(0);
  });

  it.each([[{ wait: -1 }], [{ wait: 2.5 }], [{ wait: 'soon' }], [{ wait: 3601 }]])('rejects %j with 400 VALIDATION_FAILED', async (query) => {
    const res = await request(srv.url)
      .get('/api/events')
      .set('Authorization', `Bearer ${srv.token('val', 'client')}`)
      .query({ after: '0', ...query });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
  });

  it('holds a thousand polls while streams run, and answers each with its own user’s events only', async () => {
    const users = Array.from({ length: 200 }, (_, i) => `crowd${i}`);
    const tokens = new Map(users.map((u) => [u, srv.token(u, 'client')]));
    const after = await srv.settledLastId();
    const streams: TestStream[] = [];
    try {
      for (const u of users.slice(0, 20)) streams.push(await openStream(srv.url, { token: tokens.get(u)!, lastEventId: after }));
      const polls = users.flatMap((u) => Array.from({ length: 5 }, () => ({ user: u, poll: longPoll(srv.url, tokens.get(u)!, { after, wait: 20 }) })));
      await until(() => held() === 1_000, 20_000, 'a thousand held polls');
      expect((await request(srv.url).get('/api/status')).body.longPolls).toEqual({ held: 1000, users: 200 });

      // One event per user, each to that user alone; every poll gets its user's, nobody else's.
      const published = new Map<string, string>();
      for (const u of users) published.set(u, (await srv.publish({ type: 'test.event', audience: [`user:${u}`], payload: { u } }))[0].id);
      const answers = await Promise.all(polls.map(async ({ user, poll }) => ({ user, ...(await poll.answer) })));
      for (const a of answers) {
        expect(a.status).toBe(200);
        expect(a.body.events.length).toBeGreaterThanOrEqual(1);
        expect(a.body.events.every((e: { data: { u: string } }) => e.data.u === a.user)).toBe(true);
        expect(a.body.events[0].id).toBe(published.get(a.user));
      }
      for (const [i, s] of streams.entries()) {
        await s.waitForCount(1, 10_000);
        expect(s.ids).toEqual([published.get(users[i])]);
      }
      expect(held()).toBe(0);
    } finally {
      streams.forEach((s) => s.close());
    }
  }, 90_000);
});

describeDb('long polls and commits this instance only hears of (another instance’s, as NOTIFY reports them)', () => {
  let srv: TestServer;
  beforeAll(async () => {
    // Neither the fallback poll (a minute) nor NOTIFY (stopped) moves the relay by itself.
    srv = await startTestServer({ RELAY_POLL_MS: '60000' });
    await srv.running.services.listener?.stop();
  });
  afterAll(() => srv.stop());

  /** What another instance does: append and commit on the shared log, without this relay knowing. */
  const commitElsewhere = (audience: `user:${string}`) =>
    srv.running.services.db.knex.transaction(async (trx) => (await appendEvents(trx, [{ type: 'test.event', audience: [audience], payload: {} }]))[0]);

  it('a held poll answers when the relay learns of the commit, and not before', async () => {
    const token = srv.token('far', 'client');
    const after = (await request(srv.url).get('/api/events').set('Authorization', `Bearer ${token}`)).body.lastEventId;
    const poll = longPoll(srv.url, token, { after, wait: 15 });
    await until(() => srv.running.services.heldPolls.counts().held === 1);
    const x = await commitElsewhere('user:far');
    await new Promise((r) => setTimeout(r, 200));
    expect(srv.running.services.heldPolls.counts().held).toBe(1);
    // What the commit listener does when the other instance's NOTIFY arrives.
    srv.running.services.relay.poke();
    const { body } = await poll.answer;
    expect(ids(body)).toEqual([x.id]);
    expect(body.lastEventId).toBe(x.id);
  });

  it('a cursor from the other instance, ahead of this relay, is held and answered with the next event only', async () => {
    const token = srv.token('ahead', 'client');
    const x = await commitElsewhere('user:ahead');
    const poll = longPoll(srv.url, token, { after: x.id, wait: 15 });
    await until(() => srv.running.services.heldPolls.counts().held === 1);
    srv.running.services.relay.poke();
    await srv.running.services.relay.settle();
    // x is dispatched here now, but the client had it: still held.
    await new Promise((r) => setTimeout(r, 200));
    expect(srv.running.services.heldPolls.counts().held).toBe(1);
    const y = await commitElsewhere('user:ahead');
    srv.running.services.relay.poke();
    const { body } = await poll.answer;
    expect(ids(body)).toEqual([y.id]);
  });
});

describeDb('held polls on shutdown', () => {
  it('are answered at once with what they have, and the server stops without waiting for them', async () => {
    const srv = await startTestServer({ POLL_MAX_WAIT_S: '25' });
    try {
      const token = srv.token('late', 'client');
      const after = (await request(srv.url).get('/api/events').set('Authorization', `Bearer ${token}`)).body.lastEventId;
      const polls = [longPoll(srv.url, token, { after, wait: 25 }), longPoll(srv.url, token, { after, wait: 25 })];
      await until(() => srv.running.services.heldPolls.counts().held === 2);
      const started = Date.now();
      await srv.running.shutdown();
      expect(Date.now() - started).toBeLessThan(5_000);
      for (const p of polls) {
        const { status, body, tookMs } = await p.answer;
        expect(status).toBe(200);
        expect(body).toEqual(expect.objectContaining({ events: [], lastEventId: after, reset: false }));
        expect(tookMs).toBeLessThan(10_000);
      }
    } finally {
      await srv.stop();
    }
  });
});
