import jwt from 'jsonwebtoken';
import request from 'supertest';
import { describeDb } from '../support/test-db';
import { startTestServer, type TestServer } from '../support/test-server';
import { openStream, TestStream } from '../support/sse-client';
import { TEST_JWT_SECRET } from '../support/env';
import { sleep } from '../support/sleep';

describeDb('authentication', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ TICKET_TTL_MS: '1500' });
  });
  afterAll(() => srv.stop());

  const sign = (claims: object, secret = TEST_JWT_SECRET, opts: jwt.SignOptions = { algorithm: 'HS256', expiresIn: 600 }) => jwt.sign(claims, secret, opts);

  const cases: Array<[string, Record<string, string>, string]> = [
    ['no token', {}, 'AUTH_REQUIRED'],
    ['a malformed header', { Authorization: 'Token abc' }, 'AUTH_INVALID'],
    ['a token that is not a JWT', { Authorization: 'Bearer not.a.jwt' }, 'AUTH_INVALID'],
    [
      'a wrongly signed token',
      { Authorization: `Bearer ${sign({ sub: 'u1', role: 'client' }, 'another-secret-of-enough-length-0123456789')}` },
      'AUTH_INVALID',
    ],
    [
      'an expired token',
      { Authorization: `Bearer ${sign({ sub: 'u1', role: 'client', exp: Math.floor(Date.now() / 1000) - 60 }, TEST_JWT_SECRET, { algorithm: 'HS256' })}` },
      'AUTH_EXPIRED',
    ],
    ['a token with an unknown role', { Authorization: `Bearer ${sign({ sub: 'u1', role: 'root' })}` }, 'AUTH_INVALID'],
    ['a token without sub', { Authorization: `Bearer ${sign({ role: 'client' })}` }, 'AUTH_INVALID'],
    ['a token without exp', { Authorization: `Bearer ${sign({ sub: 'u1', role: 'client' }, TEST_JWT_SECRET, { algorithm: 'HS256' })}` }, 'AUTH_INVALID'],
    [
      'an alg=none token',
      { Authorization: `Bearer ${jwt.sign({ sub: 'u1', role: 'admin', exp: Math.floor(Date.now() / 1000) + 60 }, '', { algorithm: 'none' })}` },
      'AUTH_INVALID',
    ],
    [
      'an HS512 token',
      { Authorization: `Bearer ${sign({ sub: 'u1', role: 'client' }, TEST_JWT_SECRET, { algorithm: 'HS512', expiresIn: 60 })}` },
      'AUTH_INVALID',
    ],
  ];

  describe.each([
    ['POST', '/api/events/tickets'],
    ['GET', '/api/events'],
    ['GET', '/api/events/stream'],
    ['POST', '/api/broadcasts'],
  ])('%s %s', (method, path) => {
    it.each(cases)('answers %s with 401 and its code', async (_what, headers, code) => {
      const res = await request(srv.url)[method === 'GET' ? 'get' : 'post'](path).set(headers);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: { code, message: expect.any(String) } });
    });
  });

  it('mints a ticket that opens a stream once, and only once', async () => {
    const res = await request(srv.url)
      .post('/api/events/tickets')
      .set('Authorization', `Bearer ${srv.token('tina', 'client')}`);
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ ticket: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), expiresInMs: 1500 });

    const stream = await openStream(srv.url, { ticket: res.body.ticket });
    const [e] = await srv.publish({ type: 'test.event', audience: ['user:tina'], payload: {} });
    await stream.waitForCount(1);
    expect(stream.ids).toEqual([e.id]);
    stream.close();

    const again = await request(srv.url).get('/api/events/stream').query({ ticket: res.body.ticket });
    expect(again.status).toBe(401);
    expect(again.body.error.code).toBe('AUTH_INVALID');
  });

  it('refuses an expired or unknown ticket', async () => {
    const res = await request(srv.url)
      .post('/api/events/tickets')
      .set('Authorization', `Bearer ${srv.token('tom', 'client')}`);
    await sleep(1700);
    const late = await request(srv.url).get('/api/events/stream').query({ ticket: res.body.ticket });
    expect(late.status).toBe(401);
    expect(late.body.error.code).toBe('AUTH_INVALID');

    const unknown = await request(srv.url)
      .get('/api/events/stream')
      .query({ ticket: 'A'.repeat(43) });
    expect(unknown.status).toBe(401);
    expect(unknown.body.error.code).toBe('AUTH_INVALID');
  });

  it('lets exactly one of two concurrent redemptions of a ticket through', async () => {
    const res = await request(srv.url)
      .post('/api/events/tickets')
      .set('Authorization', `Bearer ${srv.token('tara', 'client')}`);
    const outcomes = await Promise.allSettled([0, 1, 2].map(() => srv.running.services.tickets.redeem(res.body.ticket)));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
  });

  it('ends an open stream when its token expires, after a final auth_expired event', async () => {
    const token = srv.token('ursula', 'client', 2);
    const stream = new TestStream(srv.url, { token });
    await stream.opened;
    await stream.waitFor((s) => s.events.some((e) => e.type === 'auth_expired'), 6_000, 'auth_expired');
    // The client's reconnect with the expired token is refused, so it stays closed.
    await stream.waitFor((s) => s.es.readyState === 2, 5_000, 'closed');
    expect(stream.errors.some((e) => e.code === 401)).toBe(true);
    // And it gets nothing published after expiry.
    await srv.publish({ type: 'test.event', audience: ['user:ursula'], payload: {} });
    await sleep(200);
    expect(stream.ids).toEqual([]);
    expect(srv.running.services.registry.counts().total).toBe(0);
  });

  it('ends a ticket stream when the token that minted the ticket expires', async () => {
    const token = srv.token('vera', 'client', 2);
    const res = await request(srv.url).post('/api/events/tickets').set('Authorization', `Bearer ${token}`);
    expect(res.body.expiresInMs).toBeLessThanOrEqual(2000);
    const stream = new TestStream(srv.url, { ticket: res.body.ticket });
    await stream.opened;
    await stream.waitFor((s) => s.events.some((e) => e.type === 'auth_expired'), 6_000, 'auth_expired');
    stream.close();
  });

  it('forbids a client or provider from broadcasting (403), whatever the body', async () => {
    for (const role of ['client', 'provider'] as const) {
      const res = await request(srv.url)
        .post('/api/broadcasts')
        .set('Authorization', `Bearer ${srv.token('c1', role)}`)
        .send({ title: 'x', body: 'y', all: true });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
      const bad = await request(srv.url)
        .post('/api/broadcasts')
        .set('Authorization', `Bearer ${srv.token('c1', role)}`)
        .send({});
      expect(bad.status).toBe(403);
    }
    expect((await srv.db.database.knex('events').where({ type: 'announcement' }).count<{ count: string }[]>('* as count'))[0].count).toBe('0');
  });

  it('never writes a token or a ticket into the logs', async () => {
    const token = srv.token('wendy', 'client');
    const res = await request(srv.url).post('/api/events/tickets').set('Authorization', `Bearer ${token}`);
    const s = await openStream(srv.url, { ticket: res.body.ticket });
    s.close();
    await request(srv.url).get('/api/events').query({ access_token: token, ticket: res.body.ticket });
    await sleep(100);
    const all = srv.rawLogs.join('\n');
    expect(all).toContain('[Redacted]');
    expect(all).not.toContain(token);
    expect(all).not.toContain(token.split('.')[2]);
    expect(all).not.toContain(res.body.ticket);
  });
});
