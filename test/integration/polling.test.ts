import request from 'supertest';
import { describeDb } from '../support/test-db';
import { startTestServer, type TestServer } from '../support/test-server';
import { openStream } from '../support/sse-client';
import { appendEvents, pruneEvents } from '../../src/events/event-log';

describeDb('polling GET /api/events', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ POLL_INTERVAL_MS: '60000' });
  });
  afterAll(() => srv.stop());

  const poll = (token: string, query: Record<string, string | number> = {}) =>
    request(srv.url).get('/api/events').set('Authorization', `Bearer ${token}`).query(query);

  it('without `after` returns no events and the current last id, so a new client starts from now', async () => {
    await srv.publish({ type: 'test.event', audience: ['user:pia'], payload: { before: true } });
    const last = await srv.settledLastId();
    const res = await poll(srv.token('pia', 'client'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ events: [], lastEventId: last, hasMore: false, reset: false, pollIntervalMs: 60000 });
  });

  it('serves the same ids and envelopes as the stream', async () => {
    const token = srv.token('polly', 'provider');
    const { body: start } = await poll(token);
    const stream = await openStream(srv.url, { token });
    await srv.publish({ type: 'test.event', audience: ['user:polly'], payload: { n: 1 } });
    await srv.publish({ type: 'test.event', audience: ['user:other'], payload: { n: 2 } });
    await srv.publish({ type: 'test.other', audience: ['role:provider'], payload: { n: 3 } });
    await srv.publish({ type: 'test.event', audience: ['all'], payload: { title: 't', body: 'b' } });
    await stream.waitForCount(3);
    stream.close();

    const res = await poll(token, { after: start.lastEventId });
    expect(res.status).toBe(200);
    expect(res.body.events.map((e: { id: string }) => e.id)).toEqual(stream.ids);
    expect(res.body.events).toEqual(stream.events.map((e) => e.data));
    expect(res.body.hasMore).toBe(false);
    expect(res.body.lastEventId).toBe(await srv.settledLastId());
  });

  it('pages with limit and hasMore, each cursor continuing exactly where the last stopped', async () => {
    const token = srv.token('paige', 'client');
    const { body: start } = await poll(token);
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await srv.publish({ type: 'test.event', audience: ['user:paige'], payload: { i } }))[0].id);
    await srv.publish({ type: 'test.event', audience: ['user:not-paige'], payload: {} });

    const seen: string[] = [];
    let cursor = start.lastEventId;
    let pages = 0;
    for (;;) {
      const { body } = await poll(token, { after: cursor, limit: 3 });
      seen.push(...body.events.map((e: { id: string }) => e.id));
      cursor = body.lastEventId;
      pages++;
      if (!body.hasMore) break;
    }
    expect(seen).toEqual(ids);
    expect(pages).toBe(3);
    // When nothing is returned, the cursor still moves to the current last id (past others' events).
    expect(cursor).toBe(await srv.settledLastId());
    const { body: empty } = await poll(token, { after: cursor });
    expect(empty.events).toEqual([]);
    expect(empty.lastEventId).toBe(cursor);
  });

  it('answers reset for a cursor outside the retained log', async () => {
    const token = srv.token('rex', 'client');
    const last = await srv.settledLastId();
    const { body } = await poll(token, { after: '99999999999' });
    expect(body).toEqual(expect.objectContaining({ events: [], reset: true, lastEventId: last }));
  });

  it('resets a cursor that retention pruned, also one the in-memory window had served before', async () => {
    const token = srv.token('pruned', 'client');
    const { body: start } = await poll(token);
    const [old] = await srv.publish({ type: 'test.event', audience: ['user:pruned'], payload: {} });
    await srv.settledLastId();
    expect((await poll(token, { after: start.lastEventId })).body.events.map((e: { id: string }) => e.id)).toEqual([old.id]);
    await pruneEvents(srv.running.services.db.knex, new Date(Date.now() + 60_000));
    await srv.publish({ type: 'test.event', audience: ['user:pruned'], payload: {} });
    const last = await srv.settledLastId();
    const { body } = await poll(token, { after: start.lastEventId });
    expect(body).toEqual(expect.objectContaining({ events: [], reset: true, lastEventId: last }));
  });

  it.each([[{ limit: 0 }], [{ limit: 501 }], [{ limit: 'ten' }], [{ limit: 2.5 }], [{ after: 'abc' }], [{ after: '-1' }], [{ unknown: 'x' }]])(
    'rejects %j with 400 VALIDATION_FAILED',
    async (query) => {
      const res = await poll(srv.token('val', 'client'), query);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(Array.isArray(res.body.error.details)).toBe(true);
    },
  );

  it('answers with the limit it counts against (draft-8 headers) and the request id it logs under', async () => {
    const res = await poll(srv.token('hdr', 'client')).set('X-Request-Id', 'poll-hdr-1');
    expect(res.headers['ratelimit']).toMatch(/^"1000000-in-1min"; r=\d+; t=\d+$/);
    expect(res.headers['ratelimit-policy']).toMatch(/^"1000000-in-1min"; q=1000000; w=60; pk=:[A-Za-z0-9+/=]+:$/);
    expect(res.headers['x-request-id']).toBe('poll-hdr-1');
  });

  it('counts polling requests in the status endpoint', async () => {
    const before = (await request(srv.url).get('/api/status')).body.pollingRequests;
    await poll(srv.token('cnt', 'client'));
    const after = (await request(srv.url).get('/api/status')).body.pollingRequests;
    expect(after).toBe(before + 1);
  });
});

describeDb('polling while another instance commits what this one has not heard of yet', () => {
  let srv: TestServer;
  beforeAll(async () => {
    // Neither the fallback poll (a minute) nor NOTIFY (stopped) moves the relay during a test.
    srv = await startTestServer({ POLL_INTERVAL_MS: '60000', RELAY_POLL_MS: '60000' });
    await srv.running.services.listener?.stop();
  });
  afterAll(() => srv.stop());

  const poll = (token: string, query: Record<string, string | number> = {}) =>
    request(srv.url).get('/api/events').set('Authorization', `Bearer ${token}`).query(query);
  /** What another instance does: append and commit on the shared log, without this relay knowing. */
  const commitElsewhere = (audience: `user:${string}`) =>
    srv.running.services.db.knex.transaction(async (trx) => (await appendEvents(trx, [{ type: 'test.event', audience: [audience], payload: {} }]))[0]);
  const ids = (body: { events: Array<{ id: string }> }) => body.events.map((e) => e.id);

  it('answers up to what it has dispatched, takes a cursor from the other instance, and skips nothing', async () => {
    const token = srv.token('roam', 'client');
    const { body: start } = await poll(token);
    expect((await poll(token, { after: start.lastEventId })).body).toEqual(expect.objectContaining({ events: [], lastEventId: start.lastEventId }));

    const x = await commitElsewhere('user:roam');
    // Not dispatched here yet: nothing new, and the cursor does not move past the unseen event.
    expect((await poll(token, { after: start.lastEventId })).body).toEqual(
      expect.objectContaining({ events: [], lastEventId: start.lastEventId, reset: false }),
    );
    // The other instance already gave the client x: a cursor ahead of this relay is read from the log, not reset.
    expect((await poll(token, { after: x.id })).body).toEqual(expect.objectContaining({ events: [], lastEventId: x.id, reset: false }));
    const y = await commitElsewhere('user:roam');
    expect((await poll(token, { after: x.id })).body).toEqual(expect.objectContaining({ lastEventId: y.id, reset: false }));
    expect(ids((await poll(token, { after: x.id })).body)).toEqual([y.id]);

    await srv.running.services.relay.settle();
    const { body } = await poll(token, { after: start.lastEventId });
    expect(ids(body)).toEqual([x.id, y.id]);
    expect(body.lastEventId).toBe(y.id);
  });
});
