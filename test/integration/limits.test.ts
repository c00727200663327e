import net from 'node:net';
import request from 'supertest';
import { describeDb } from '../support/test-db';
import { startTestServer, type TestServer } from '../support/test-server';
import { openStream, TestStream } from '../support/sse-client';

describeDb('protecting the instance', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ STREAMS_PER_USER_MAX: '2', POLL_RATE_LIMIT_PER_MIN: '3', AUTH_FAILURE_LIMIT_PER_5MIN: '3' });
  });
  afterAll(() => srv.stop());

  it('caps open streams per user (429 TOO_MANY_STREAMS), and frees a slot when one closes', async () => {
    const token = srv.token('greedy', 'client');
    const one = await openStream(srv.url, { token });
    const two = await openStream(srv.url, { token });
    const third = await request(srv.url).get('/api/events/stream').set('Authorization', `Bearer ${token}`);
    expect(third.status).toBe(429);
    expect(third.body.error.code).toBe('TOO_MANY_STREAMS');
    // Another user is not affected.
    const other = await openStream(srv.url, { token: srv.token('modest', 'client') });
    one.close();
    const deadline = Date.now() + 5_000;
    let again: TestStream | undefined;
    while (!again && Date.now() < deadline) {
      const s = new TestStream(srv.url, { token });
      try {
        await s.opened;
        again = s;
      } catch {
        s.close();
      }
    }
    expect(again).toBeDefined();
    [two, other, again!].forEach((s) => s.close());
  });

  it('gives the slot back when a client leaves before its stream has opened', async () => {
    const token = srv.token('vanishing', 'client');
    const port = new URL(srv.url).port;
    // Redeeming a ticket waits on the database, so each client is gone before its stream starts.
    for (let i = 0; i < 6; i++) {
      const t = await request(srv.url).post('/api/events/tickets').set('Authorization', `Bearer ${token}`).send({});
      expect(t.status).toBe(201);
      await new Promise<void>((resolve) => {
        const socket = net.connect(Number(port), '127.0.0.1', () => {
          socket.end(`GET /api/events/stream?ticket=${t.body.ticket} HTTP/1.1\r\nHost: x\r\n\r\n`, () => socket.destroy());
        });
        socket.on('close', () => resolve());
      });
    }
    // Both slots of the user are free: two streams open and stay open.
    const deadline = Date.now() + 5_000;
    let opened: TestStream[] = [];
    while (opened.length < 2 && Date.now() < deadline) {
      const s = new TestStream(srv.url, { token });
      try {
        await s.opened;
        opened.push(s);
      } catch {
        s.close();
        opened.forEach((o) => o.close());
        opened = [];
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect(opened).toHaveLength(2);
    opened.forEach((s) => s.close());
  });

  it('rate-limits polling per user with 429 RATE_LIMITED', async () => {
    const token = srv.token('poller', 'client');
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await request(srv.url).get('/api/events').set('Authorization', `Bearer ${token}`)).status);
    expect(codes).toEqual([200, 200, 200, 429]);
    const res = await request(srv.url).get('/api/events').set('Authorization', `Bearer ${token}`);
    expect(res.body.error.code).toBe('RATE_LIMITED');
    // Another user polls freely.
    expect(
      (
        await request(srv.url)
          .get('/api/events')
          .set('Authorization', `Bearer ${srv.token('poller2', 'client')}`)
      ).status,
    ).toBe(200);
  });

  it('rate-limits failed authentication per address', async () => {
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await request(srv.url).get('/api/me').set('Authorization', 'Bearer not.a.token')).status);
    expect(codes).toEqual([401, 401, 401, 429]);
  });
});
