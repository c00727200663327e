import http from 'node:http';
import { describeDb } from '../support/test-db';
import { startTestServer, type TestServer } from '../support/test-server';

/** Reads the raw bytes of a stream until `until` matches what has arrived. */
function readRaw(url: string, token: string, until: RegExp, timeoutMs = 5_000, headers: Record<string, string> = {}) {
  return new Promise<{ headers: http.IncomingHttpHeaders; status: number; body: string }>((resolve, reject) => {
    const req = http.get(`${url}/api/events/stream`, { headers: { Authorization: `Bearer ${token}`, ...headers } }, (res) => {
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
    // Long enough to be valid when the stream opens on a busy machine; the stream then outlives it.
    const token = srv.token('ctl', 'client', 3);
    const { body } = await readRaw(srv.url, token, /event:auth_expired\n[\s\S]*?\n\n/, 10_000);
    const frame = body.slice(body.indexOf('event:auth_expired'));
    expect(frame).not.toMatch(/^id:/m);
  });
});

// Streams are served before Express (src/realtime/stream-endpoint.ts); these pin what that path
// must still do the way every other route does.
describeDb('stream endpoint outside Express', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ CORS_ORIGINS: 'https://app.example.co.za' });
  });
  afterAll(() => srv.stop());

  it('sends CORS headers to a configured origin only', async () => {
    const ok = await readRaw(srv.url, srv.token('cors1', 'client'), /retry:/, 5_000, { Origin: 'https://app.example.co.za' });
    expect(ok.headers['access-control-allow-origin']).toBe('https://app.example.co.za');
    const other = await readRaw(srv.url, srv.token('cors2', 'client'), /retry:/, 5_000, { Origin: 'https://evil.example' });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers a refused stream through the one error handler: JSON code, logged with it', async () => {
    const res = await fetch(`${srv.url}/api/events/stream?ticket=not-a-ticket`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { code: 'AUTH_INVALID', message: expect.any(String) } });
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect(srv.logs.some((l) => l.code === 'AUTH_INVALID' && String((l.req as { url?: string })?.url).startsWith('/api/events/stream'))).toBe(true);
  });

  it('serves a path variant (trailing slash) through Express in full', async () => {
    const ac = new AbortController();
    const res = await fetch(`${srv.url}/api/events/stream/`, {
      headers: { Authorization: `Bearer ${srv.token('variant', 'client')}` },
      signal: ac.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    ac.abort();
  });
});
