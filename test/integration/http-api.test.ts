import request from 'supertest';
import { describeDb } from '../support/test-db';
import { startTestServer, type TestServer } from '../support/test-server';
import { openStream } from '../support/sse-client';
import { sleep } from '../support/sleep';

describeDb('HTTP API: errors, broadcasts and operator endpoints', () => {
  let srv: TestServer;
  let admin: string;
  beforeAll(async () => {
    srv = await startTestServer();
    admin = srv.token('ops', 'admin');
  });
  afterAll(() => srv.stop());

  const eventCount = async () => Number((await srv.db.database.knex('events').count<{ count: string }[]>('* as count'))[0].count);
  const broadcast = (body: unknown, token = admin) =>
    request(srv.url)
      .post('/api/broadcasts')
      .set('Authorization', `Bearer ${token}`)
      .send(body as object);

  it('answers unknown routes with a JSON 404', async () => {
    const res = await request(srv.url).get('/api/nothing-here');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'NOT_FOUND', message: expect.any(String) } });
  });

  it('hashes no API answer for an ETag, while static pages keep theirs', async () => {
    const poll = await request(srv.url)
      .get('/api/events')
      .set('Authorization', `Bearer ${srv.token('etag-u', 'client')}`);
    expect(poll.status).toBe(200);
    expect(poll.headers.etag).toBeUndefined();
    const page = await request(srv.url).get('/');
    expect(page.status).toBe(200);
    expect(page.headers.etag).toEqual(expect.any(String));
  });

  it('answers a body that is not JSON with 400 INVALID_JSON and changes nothing', async () => {
    const before = await eventCount();
    const res = await request(srv.url)
      .post('/api/broadcasts')
      .set('Authorization', `Bearer ${admin}`)
      .set('Content-Type', 'application/json')
      .send('{"title": "x", ');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('INVALID_JSON');
    expect(await eventCount()).toBe(before);
  });

  it('answers a non-JSON content type with 415', async () => {
    const res = await request(srv.url).post('/api/broadcasts').set('Authorization', `Bearer ${admin}`).set('Content-Type', 'text/plain').send('title=x');
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers an oversized body with 413', async () => {
    const res = await broadcast({ title: 't', body: 'x'.repeat(200 * 1024), all: true });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it.each([
    ['no target', { title: 't', body: 'b' }],
    ['two targets', { title: 't', body: 'b', all: true, role: 'client' }],
    ['an unknown role', { title: 't', body: 'b', role: 'root' }],
    ['all: false', { title: 't', body: 'b', all: false }],
    ['empty userIds', { title: 't', body: 'b', userIds: [] }],
    ['a non-string user id', { title: 't', body: 'b', userIds: [42] }],
    ['a user id with spaces', { title: 't', body: 'b', userIds: ['a b'] }],
    ['an empty title', { title: '  ', body: 'b', all: true }],
    ['an extra field', { title: 't', body: 'b', all: true, priority: 'high' }],
    ['an array body', [1, 2]],
  ])('rejects a broadcast with %s: 400 VALIDATION_FAILED, nothing stored', async (_what, body) => {
    const before = await eventCount();
    const res = await broadcast(body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(res.body.error.details.length).toBeGreaterThan(0);
    expect(await eventCount()).toBe(before);
  });

  it('publishes a broadcast to exactly its audience: listed users, a role, or everyone', async () => {
    const c1 = await openStream(srv.url, { token: srv.token('bc-c1', 'client') });
    const c2 = await openStream(srv.url, { token: srv.token('bc-c2', 'client') });
    const p1 = await openStream(srv.url, { token: srv.token('bc-p1', 'provider') });

    const toUsers = await broadcast({ title: 'Hi', body: 'to c1 and p1', userIds: ['bc-c1', 'bc-p1'] });
    const toProviders = await broadcast({ title: 'Hi', body: 'to providers', role: 'provider' });
    const toAll = await broadcast({ title: 'Hi', body: 'to all', all: true });
    for (const r of [toUsers, toProviders, toAll]) {
      expect(r.status).toBe(202);
      expect(r.body).toEqual({ eventId: expect.stringMatching(/^\d+$/) });
    }
    const announcements = (s: typeof c1) => s.idsOf('announcement');
    await c1.waitFor((s) => announcements(s).length >= 2);
    await c2.waitFor((s) => announcements(s).length >= 1);
    await p1.waitFor((s) => announcements(s).length >= 3);
    await sleep(150);
    expect(announcements(c1)).toEqual([toUsers.body.eventId, toAll.body.eventId]);
    expect(announcements(c2)).toEqual([toAll.body.eventId]);
    expect(announcements(p1)).toEqual([toUsers.body.eventId, toProviders.body.eventId, toAll.body.eventId]);
    // Recipients see the text, not who else received it.
    expect(c1.events[0].data).toEqual(expect.objectContaining({ type: 'announcement', data: { title: 'Hi', body: 'to c1 and p1' } }));
    [c1, c2, p1].forEach((s) => s.close());
  });

  it('reports health, readiness and status for operators, with no personal data', async () => {
    expect((await request(srv.url).get('/healthz')).status).toBe(200);
    const ready = await request(srv.url).get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready' });

    const s = await openStream(srv.url, { token: srv.token('status-user-x', 'provider') });
    const [e] = await srv.publish({ type: 'test.event', audience: ['user:status-user-x'], payload: {} });
    await s.waitForCount(1);
    await request(srv.url).get('/api/nothing');
    const res = await request(srv.url).get('/api/status');
    expect(res.status).toBe(200);
    const st = res.body;
    expect(st).toEqual(
      expect.objectContaining({
        status: 'ok',
        version: expect.any(String),
        instanceId: expect.any(String),
        uptimeSeconds: expect.any(Number),
        database: expect.objectContaining({ reachable: true, kind: process.env.TEST_DB, latencyMs: expect.any(Number) }),
        slowConsumersDropped: expect.any(Number),
        pollingRequests: expect.any(Number),
      }),
    );
    expect(st.streams.open).toBe(1);
    expect(st.streams.byRole.provider).toBe(1);
    expect(st.streams.connectedUsers).toBe(1);
    expect(st.events.lastEventId).toBe(e.id);
    expect(st.events.oldestReplayableAfter).toBe('0');
    expect(st.events.published).toBeGreaterThanOrEqual(1);
    expect(st.events.delivered).toBeGreaterThanOrEqual(1);
    expect(st.fanoutLag.samples).toBeGreaterThanOrEqual(1);
    expect(typeof st.fanoutLag.p50Ms).toBe('number');
    expect(st.recentErrors.byCode.NOT_FOUND).toBeGreaterThanOrEqual(1);
    expect(st.webhookSettling).toEqual({
      recorded: 0,
      swept: 0,
      contradicted: 0,
      deferred: 0,
      inFlight: 0,
      batches: 0,
      deliveries: 0,
      retriedAlone: 0,
      queued: 0,
    });
    expect(JSON.stringify(st)).not.toContain('status-user-x');
    s.close();
  });

  it('exports Prometheus metrics', async () => {
    const res = await request(srv.url).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    for (const name of [
      'sse_open_streams',
      'events_published_total',
      'event_delivery_latency_seconds_bucket',
      'http_request_duration_seconds_bucket',
      'sse_slow_consumers_dropped_total',
    ]) {
      expect(res.text).toContain(name);
    }
    expect(res.text).toMatch(/http_request_duration_seconds_count\{[^}]*route="\/api\/status"/);
  });

  it('logs every error response with its code', async () => {
    await request(srv.url).get('/api/events').set('Authorization', 'Bearer nope');
    await sleep(50);
    const errorLines = srv.logs.filter((l) => (l.level as number) >= 40);
    expect(errorLines.length).toBeGreaterThan(0);
    for (const l of errorLines) expect(l.code).toEqual(expect.any(String));
  });
});
