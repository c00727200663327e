import request from 'supertest';
import { describeDb } from '../support/test-db';
import { startTestServer, type TestServer } from '../support/test-server';

describeDb('POST /api/events/client-mode', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer();
  });
  afterAll(() => srv.stop());

  const report = (body: unknown, token?: string) => {
    const req = request(srv.url).post('/api/events/client-mode');
    if (token) req.set('Authorization', `Bearer ${token}`);
    return req.send(body as object);
  };
  const modes = async () => (await request(srv.url).get('/api/status')).body.clientModes;

  it('counts the latest mode of each browser session in /api/status', async () => {
    expect(await modes()).toEqual({ live: 0, polling: 0, offline: 0 });
    const token = srv.token('mo', 'client');
    expect((await report({ sessionId: 'browser-one', mode: 'live', reason: 'stream open' }, token)).status).toBe(204);
    expect((await report({ sessionId: 'browser-two', mode: 'live', reason: 'stream open' }, token)).status).toBe(204);
    expect((await report({ sessionId: 'browser-two', mode: 'polling', reason: '5 stream failures' }, token)).status).toBe(204);
    expect(await modes()).toEqual({ live: 1, polling: 1, offline: 0 });
    const line = srv.logs.find((l) => l.msg === 'client mode changed' && l.mode === 'polling');
    expect(line).toMatchObject({ userId: 'mo', sessionId: 'browser-two', from: 'live', reason: '5 stream failures' });
  });

  it('needs a token', async () => {
    const res = await report({ sessionId: 'browser-one', mode: 'live', reason: '' });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('AUTH_REQUIRED');
  });

  it.each([
    ['an unknown mode', { sessionId: 'browser-one', mode: 'connecting', reason: '' }],
    ['a short session id', { sessionId: 'x', mode: 'live', reason: '' }],
    ['a long reason', { sessionId: 'browser-one', mode: 'live', reason: 'x'.repeat(201) }],
    ['an unknown field', { sessionId: 'browser-one', mode: 'live', reason: '', userId: 'someone-else' }],
  ])('refuses %s with 400 VALIDATION_FAILED', async (_name, body) => {
    const res = await report(body, srv.token('mo', 'client'));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
  });
});
