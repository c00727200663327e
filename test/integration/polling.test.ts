import request from 'supertest';
import { describeDb } from '../helpers/test-db';
import { startTestServer, type TestServer } from '../helpers/test-server';
import { openStream } from '../helpers/sse-client';

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

  it.each([
    [{ limit: 0 }],
    [{ limit: 501 }],
    [{ limit: 'ten' }],
    [{ limit: 2.5 }],
    [{ after: 'abc' }],
    [{ after: '-1' }],
    [{ unknown: 'x' }],
  ])('rejects %j with 400 VALIDATION_FAILED', async (query) => {
    const res = await poll(srv.token('val', 'client'), query as Record<string, string>);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(Array.isArray(res.body.error.details)).toBe(true);
  });

  it('counts polling requests in the status endpoint', async () => {
    const before = (await request(srv.url).get('/api/status')).body.pollingRequests;
    await poll(srv.token('cnt', 'client'));
    const after = (await request(srv.url).get('/api/status')).body.pollingRequests;
    expect(after).toBe(before + 1);
  });
});
