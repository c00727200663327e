import http from 'node:http';
import { describeDb } from '../helpers/test-db';
import { startTestServer, type TestServer } from '../helpers/test-server';

/** Reads the raw bytes of a stream until `until` matches what has arrived. */
function readRaw(url: string, token: string, until: RegExp, timeoutMs = 5_000) {
  return new Promise<{ headers: http.IncomingHttpHeaders; status: number; body: string }>((resolve, reject) => {
    const req = http.get(`${url}/api/events/stream`, { headers: { Authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      const timer = setTimeout(() => {
        req.destroy();
        reject(new Error(`timed out; got ${JSON.stringify(body)}`));
      }, timeoutMs);
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
        if (until.test(body)) {
          clearTimeout(timer);
          req.destroy();
          resolve({ headers: res.headers, status: res.statusCode ?? 0, body });
        }
      });
    });
    req.on('error', () => undefined);
  });
}

describeDb('stream framing', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ HEARTBEAT_MS: '150', STREAM_RETRY_MS: '1234' });
  });
  afterAll(() => srv.stop());

  it('sets no-buffering headers and retry, and sends heartbeat comments', async () => {
    const { status, headers, body } = await readRaw(srv.url, srv.token('hb', 'client'), /\n:[^\n]*\n\n[\s\S]*\n:[^\n]*\n\n/);
    expect(status).toBe(200);
    expect(headers['content-type']).toMatch(/^text\/event-stream/);
    expect(headers['cache-control']).toMatch(/no-cache/);
    expect(headers['x-accel-buffering']).toBe('no');
    expect(body.startsWith('retry:1234\n')).toBe(true);
  });

  it('writes control events without an id field, so the client keeps its Last-Event-ID', async () => {
    const token = srv.token('ctl', 'client', 1);
    const { body } = await readRaw(srv.url, token, /event:auth_expired\n[\s\S]*?\n\n/, 5_000);
    const frame = body.slice(body.indexOf('event:auth_expired'));
    expect(frame).not.toMatch(/^id:/m);
  });
});
