import request from 'supertest';
import { describeDb } from '../support/test-db';
import { startTestServer, type TestServer } from '../support/test-server';
import { createLogger, prettyDestination } from '../../src/logger';
import { Writable } from 'node:stream';

/** /api/status read by a person with curl, and the request log a person reads in a terminal. */
describeDb('status and console for people', () => {
  let srv: TestServer;

  beforeAll(async () => {
    srv = await startTestServer();
  });
  afterAll(() => srv?.stop());

  /** The request log lines for a path, and their levels. */
  const requestLines = (path: string) =>
    srv.logs.filter((l) => l.msg === 'request completed' && String((l.req as { url?: string } | undefined)?.url ?? '').split('?')[0] === path);

  it('answers curl (no Accept, or */*) with indented JSON, and a program asking for JSON with one line', async () => {
    const forPeople = await request(srv.url).get('/api/status').set('Accept', '*/*').expect(200);
    expect(forPeople.headers['content-type']).toMatch(/^application\/json/);
    expect(forPeople.text).toMatch(/^\{\n {2}"status": "ok",\n/);
    expect(forPeople.text.endsWith('}\n')).toBe(true);

    const forPrograms = await request(srv.url).get('/api/status').set('Accept', 'application/json').expect(200);
    expect(forPrograms.text).not.toContain('\n');
    expect(JSON.parse(forPrograms.text).status).toBe('ok');
    expect(Object.keys(JSON.parse(forPeople.text))).toEqual(Object.keys(JSON.parse(forPrograms.text)));
  });

  it('gives every duration in milliseconds to two decimals at most', async () => {
    await srv.publish({ type: 'test.event', audience: ['user:someone'], payload: {} });
    let durations: Array<[string, number]> = [];
    // The database's latency comes from a check in the background: wait for its first figure.
    for (let i = 0; i < 50 && !durations.some(([k]) => k === 'latencyMs'); i++) {
      const body = (await request(srv.url).get('/api/status').expect(200)).text;
      durations = [];
      JSON.parse(body, (key, value) => {
        if (key.endsWith('Ms') && typeof value === 'number') durations.push([key, value]);
        return value;
      });
      if (!durations.some(([k]) => k === 'latencyMs')) await new Promise((r) => setTimeout(r, 100));
    }
    expect(durations.map(([k]) => k)).toContain('latencyMs');
    for (const [key, value] of durations) expect([key, Math.round(value * 100) / 100]).toEqual([key, value]);
  });

  it('logs status and health polls at debug (the request metrics count them) and other requests at info', async () => {
    for (let i = 0; i < 3; i++) await request(srv.url).get('/api/status').expect(200);
    await request(srv.url).get('/readyz');
    await request(srv.url)
      .get('/api/bookings')
      .set('Authorization', `Bearer ${srv.token('quiet-user', 'client')}`)
      .expect(200);
    await new Promise((r) => setTimeout(r, 50));

    const status = requestLines('/api/status');
    expect(status.length).toBeGreaterThanOrEqual(3);
    expect(new Set(status.map((l) => l.level))).toEqual(new Set([20]));
    expect(new Set(requestLines('/readyz').map((l) => l.level))).toEqual(new Set([20]));
    expect(requestLines('/api/bookings').map((l) => l.level)).toEqual([30]);
    // Counted all the same: the request metrics have the status route.
    const metrics = (await request(srv.url).get('/metrics').expect(200)).text;
    expect(metrics).toMatch(/http_request_duration_seconds_count\{[^}]*route="\/api\/status"[^}]*\} [1-9]/);
  });

  it('writes one readable line per entry in the pretty format, its fields below, no token in it', async () => {
    let out = '';
    const sink = new Writable({
      write(chunk, _enc, cb) {
        out += String(chunk);
        cb();
      },
    });
    const logger = createLogger('info', prettyDestination(sink));
    logger.info({ port: 3000, session: { token: 'secret-token-value' } }, 'demo ready at http://localhost:3000/');
    await new Promise((r) => setTimeout(r, 50));
    expect(out).toMatch(/^\[\d\d:\d\d:\d\d\] INFO: demo ready at http:\/\/localhost:3000\/\n/);
    expect(out).toContain('port: 3000');
    expect(out).not.toContain('secret-token-value');
  });
});
