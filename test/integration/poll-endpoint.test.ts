import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { describeDb } from '../support/test-db';
import { startTestServer, type TestServer } from '../support/test-server';
import { createApp } from '../../src/app';
import { withPollEndpoint } from '../../src/realtime/poll-endpoint';

/*
 * The server answers GET /api/events before Express (poll-endpoint.ts). Here the endpoint is put
 * in front of the real app on a server of the test's own, so the test sees which requests it
 * passed on to Express; a path variant (`/api/events/`) is answered by Express's route in full,
 * and is the reference the endpoint's answers are held to.
 */
describeDb('polls answered before Express', () => {
  let srv: TestServer;
  let server: http.Server;
  let url: string;
  const passedOn: string[] = [];

  beforeAll(async () => {
    srv = await startTestServer({ POLL_INTERVAL_MS: '60000' });
    const app = createApp(srv.running.services);
    server = http.createServer(
      withPollEndpoint(srv.running.services, (req: IncomingMessage, res) => {
        passedOn.push(`${req.method} ${req.url}`);
        app(req, res);
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await srv?.stop();
  });
  beforeEach(() => {
    passedOn.length = 0;
  });

  const linesOf = (requestId: string) => srv.logs.filter((l) => (l.req as { id?: string } | undefined)?.id === requestId);
  /** Headers whose values differ per answer by nature. */
  const comparable = (headers: Record<string, string>) => {
    const { date: _d, 'x-request-id': _id, ratelimit: _r, ...rest } = headers;
    return rest;
  };

  it('answers a poll itself, with the body, headers and log line Express gives the same poll', async () => {
    const token = srv.token('fast', 'client');
    const { body: start } = await request(url).get('/api/events').set('Authorization', `Bearer ${token}`);
    const [published] = await srv.publish({ type: 'test.event', audience: ['user:fast'], payload: { n: 1 } });
    await srv.settledLastId();

    const fast = await request(url)
      .get('/api/events')
      .query({ after: start.lastEventId })
      .set('Authorization', `Bearer ${token}`)
      .set('X-Request-Id', 'fast-1');
    const viaExpress = await request(url)
      .get('/api/events/')
      .query({ after: start.lastEventId })
      .set('Authorization', `Bearer ${token}`)
      .set('X-Request-Id', 'express-1');

    expect(passedOn).toEqual([`GET /api/events/?after=${start.lastEventId}`]);
    expect(fast.status).toBe(200);
    expect(fast.body.events.map((e: { id: string }) => e.id)).toEqual([published.id]);
    expect(fast.body).toEqual(viaExpress.body);
    expect(comparable(fast.headers)).toEqual(comparable(viaExpress.headers));
    expect(fast.headers['x-request-id']).toBe('fast-1');
    expect(fast.headers['ratelimit']).toMatch(/^"1000000-in-1min"; r=\d+; t=\d+$/);

    // One line each, the same shape (pino-http's on the Express side).
    await new Promise((r) => setImmediate(r));
    const [fastLine, expressLine] = [linesOf('fast-1'), linesOf('express-1')];
    expect(fastLine).toHaveLength(1);
    expect(expressLine).toHaveLength(1);
    const shape = (l: Record<string, unknown>) => ({
      keys: Object.keys(l).sort(),
      req: Object.keys(l.req as object).sort(),
      res: l.res,
      msg: l.msg,
      level: l.level,
    });
    expect(shape(fastLine[0])).toEqual(shape(expressLine[0]));
    expect((fastLine[0].req as { url: string }).url).toBe(`/api/events?after=${start.lastEventId}`);
  });

  it('counts the poll in the request-duration metric under its route', async () => {
    const count = async () => {
      const text = (await request(srv.url).get('/metrics')).text;
      const m = /^http_request_duration_seconds_count\{method="GET",route="\/api\/events",status="200"\} (\d+)$/m.exec(text);
      return Number(m?.[1] ?? 0);
    };
    const before = await count();
    await request(url)
      .get('/api/events')
      .set('Authorization', `Bearer ${srv.token('metered', 'client')}`)
      .expect(200);
    expect(await count()).toBe(before + 1);
    expect(passedOn).toEqual([]);
  });

  it.each([
    ['no token', {}, {}, 401, 'AUTH_REQUIRED'],
    ['a bad token', { Authorization: 'Bearer not.a.token' }, {}, 401, 'AUTH_INVALID'],
    ['a bad cursor', { Authorization: 'token' }, { after: 'abc' }, 400, 'VALIDATION_FAILED'],
  ])('answers a poll with %s itself, as Express would, and logs it once', async (_what, headers, query, status, code) => {
    const h: Record<string, string> = { ...headers, 'X-Request-Id': `handed-${code}` };
    if (h.Authorization === 'token') h.Authorization = `Bearer ${srv.token('handed', 'client')}`;
    const res = await request(url).get('/api/events').query(query).set(h);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-request-id']).toBe(`handed-${code}`);
    expect(passedOn).toEqual([]);
    await new Promise((r) => setImmediate(r));
    const lines = linesOf(`handed-${code}`);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toEqual(expect.objectContaining({ code, res: { statusCode: status } }));
  });

  it('passes on untouched what is not a bodiless GET of its path', async () => {
    const token = srv.token('other', 'client');
    const withBody = await request(url).get('/api/events').set('Authorization', `Bearer ${token}`).set('Content-Type', 'text/plain').send('hello');
    expect(withBody.status).toBe(415);
    expect(withBody.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect((await request(url).post('/api/events').set('Authorization', `Bearer ${token}`)).status).toBe(404);
    expect((await request(url).get('/api/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect(passedOn).toEqual(['GET /api/events', 'POST /api/events', 'GET /api/me']);
  });
});
