import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { createTestDatabase, describeDb, TEST_DB, type TestDatabase } from '../support/test-db';
import { openStream, type TestStream } from '../support/sse-client';
import { spawnServer, waitReady, withTimeout, type ServerProcess } from '../support/server-process';
import { heldPost } from '../support/held-request';
import { createTokenService } from '../../src/auth/jwt';
import { openDatabase } from '../../src/storage/db';
import { TEST_JWT_SECRET } from '../support/env';
import { freePort } from '../support/free-port';

const tokens = createTokenService(TEST_JWT_SECRET);

/** A broadcast held in flight across the shutdown (see heldPost). */
function heldBroadcast(port: number, token: string, n: number) {
  return { n, ...heldPost(port, token, '/api/broadcasts', { title: `in flight ${n}`, body: `broadcast ${n} sent across shutdown`, all: true }) };
}

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: any;
}

/** Complete HTTP/1.1 responses (with Content-Length bodies) in what a raw socket received, skipping 1xx. */
function parseResponses(raw: string): RawResponse[] {
  const out: RawResponse[] = [];
  let pos = 0;
  for (;;) {
    const end = raw.indexOf('\r\n\r\n', pos);
    if (end < 0) return out;
    const [statusLine, ...lines] = raw.slice(pos, end).split('\r\n');
    const status = Number(statusLine.split(' ')[1]);
    const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    const length = Number(headers['content-length'] ?? 0);
    if (raw.length < end + 4 + length) return out;
    const text = raw.slice(end + 4, end + 4 + length);
    pos = end + 4 + length;
    if (status >= 200) out.push({ status, headers, body: text ? JSON.parse(text) : undefined });
  }
}

/**
 * Like heldBroadcast, on a bare socket, and with a stream request pipelined right behind the
 * body: that second request reaches the server only after shutdown began, on a connection the
 * server is still serving.
 */
function heldBroadcastThenStream(port: number, admin: string, streamToken: string) {
  const socket = net.connect({ host: '127.0.0.1', port });
  let received = '';
  const waiters: Array<() => void> = [];
  socket.setEncoding('utf8').on('data', (c: string) => {
    received += c;
    waiters.splice(0).forEach((w) => w());
  });
  socket.on('error', () => undefined);
  const until = (ok: () => boolean, ms: number, what: string) =>
    withTimeout(
      (async () => {
        while (!ok()) {
          if (socket.destroyed) throw new Error(`connection closed while waiting for ${what}; received ${JSON.stringify(received)}`);
          await new Promise<void>((r) => {
            waiters.push(r);
            socket.once('close', () => r());
          });
        }
      })(),
      ms,
      what,
    );
  const body = JSON.stringify({ title: 'in flight raw', body: 'broadcast sent across shutdown', all: true });
  socket.write(
    `POST /api/broadcasts HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nAuthorization: Bearer ${admin}\r\nExpect: 100-continue\r\n\r\n`,
  );
  return {
    continued: until(() => /^HTTP\/1\.1 100 /.test(received), 10_000, '100 Continue on the raw request'),
    /** Sends the body and the pipelined stream request; resolves with both responses. */
    async finish(): Promise<RawResponse[]> {
      socket.write(body + `GET /api/events/stream HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${streamToken}\r\n\r\n`);
      await until(() => parseResponses(received).length >= 2, 8_000, 'both responses on the raw connection');
      // Done with this connection, as a client would be.
      socket.end();
      return parseResponses(received);
    },
    destroy: () => socket.destroy(),
  };
}

describeDb('graceful shutdown of the server process on SIGTERM', () => {
  let srv: ServerProcess | undefined;
  let dataDir: string | undefined;
  let testDb: TestDatabase | undefined;
  const streams: TestStream[] = [];
  const cleanups: Array<() => void> = [];

  afterAll(async () => {
    streams.forEach((s) => s.close());
    cleanups.forEach((f) => f());
    if (srv?.isRunning()) {
      srv.child.kill('SIGKILL');
      await srv.exited;
    }
    await testDb?.drop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('ends open streams, finishes in-flight requests (their events are committed), refuses new streams, and exits 0', async () => {
    const env: Record<string, string> = {
      NODE_ENV: 'test',
      PORT: String(await freePort()),
      JWT_SECRET: TEST_JWT_SECRET,
      LOG_LEVEL: 'info',
      SHUTDOWN_TIMEOUT_MS: '10000',
    };
    if (TEST_DB === 'postgres') {
      testDb = await createTestDatabase();
      env.DATABASE_URL = testDb.url!;
    } else {
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rt-shutdown-'));
      env.DATA_DIR = dataDir;
    }
    srv = spawnServer(env);
    // A fresh PGlite data folder runs initdb first: seconds, more on a loaded machine.
    await waitReady(srv, 60_000);

    const admin = tokens.sign({ sub: 'ops', role: 'admin' }, 600);
    const stream = await openStream(srv.url, { token: tokens.sign({ sub: 'carol', role: 'client' }, 600) });
    streams.push(stream);
    // The stream is live: a broadcast reaches it.
    const warmup = await fetch(`${srv.url}/api/broadcasts`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${admin}` },
      body: JSON.stringify({ title: 'before', body: 'before shutdown', all: true }),
    });
    expect(warmup.status).toBe(202);
    const { eventId: warmupId } = await warmup.json();
    await stream.waitFor((s) => s.ids.includes(warmupId), 10_000, 'the warm-up broadcast');

    // Requests the server has accepted and routed, but that cannot finish until we send their bodies.
    const held = [1, 2, 3, 4].map((n) => heldBroadcast(srv!.port, admin, n));
    const streamToken = tokens.sign({ sub: 'dave', role: 'client' }, 600);
    const raw = heldBroadcastThenStream(srv.port, admin, streamToken);
    cleanups.push(raw.destroy);
    await withTimeout(Promise.all(held.map((h) => h.continued)), 10_000, '100 Continue on every held request');
    await raw.continued;

    const errorsBefore = stream.errors.length;
    expect(srv.child.kill('SIGTERM')).toBe(true);

    // The server ends the stream itself while it drains; the process is still there.
    await stream.waitFor((s) => s.errors.length > errorsBefore, 8_000, 'the stream to be ended by the server');
    expect(stream.es.readyState).not.toBe(stream.es.OPEN);
    expect(srv.isRunning()).toBe(true);

    // In-flight requests still complete, after the streams were ended.
    held.forEach((h) => h.sendBody());
    const responses = await withTimeout(Promise.all(held.map((h) => h.response)), 8_000, 'the held responses');
    for (const r of responses) expect(r).toEqual({ status: 202, body: { eventId: expect.stringMatching(/^[1-9]\d*$/) } });
    // On the raw connection: the broadcast is served, and a stream asked for during draining is refused.
    const [rawBroadcast, lateStream] = await raw.finish();
    expect(rawBroadcast).toEqual(expect.objectContaining({ status: 202, body: { eventId: expect.stringMatching(/^[1-9]\d*$/) } }));
    expect(lateStream).toEqual(expect.objectContaining({ status: 503, body: { error: { code: 'SHUTTING_DOWN', message: expect.any(String) } } }));
    const eventIds = [...responses.map((r) => r.body.eventId as string), rawBroadcast.body.eventId as string];
    expect(new Set(eventIds).size).toBe(eventIds.length);

    // Exits by itself, cleanly; SHUTDOWN_TIMEOUT_MS (10 s) would have made it exit 1.
    const exit = await withTimeout(srv.exited, 15_000, 'the process to exit');
    expect({ exit, stderr: srv.stderr() }).toEqual({ exit: { code: 0, signal: null }, stderr: expect.not.stringMatching(/error/i) });
    const msgs = srv.logs.map((l) => l.msg);
    expect(msgs).toEqual(expect.arrayContaining(['shutting down', 'stopped']));
    expect(srv.logs.find((l) => l.msg === 'shutting down')).toEqual(expect.objectContaining({ signal: 'SIGTERM' }));
    // Nothing went wrong but the refusal we provoked (which the server logs at error level).
    expect(srv.logs.filter((l) => l.level >= 50 && l.code !== 'SHUTTING_DOWN')).toEqual([]);
    expect(srv.logs.some((l) => l.code === 'SHUTDOWN_TIMEOUT')).toBe(false);

    // Every 202 was a commit: the events are in the log, read with the server gone.
    const db = testDb ? testDb.database : await openDatabase({ dataDir });
    try {
      const rows: Array<{ id: string; type: string; payload: { title: string } }> = await db
        .knex('events')
        .select('id', 'type', 'payload')
        .whereIn('id', [warmupId, ...eventIds])
        .orderBy('id');
      expect(rows.map((r) => r.id).sort()).toEqual([warmupId, ...eventIds].sort());
      expect(rows.every((r) => r.type === 'announcement')).toBe(true);
      expect(rows.map((r) => r.payload.title).sort()).toEqual(['before', ...held.map((h) => `in flight ${h.n}`), 'in flight raw'].sort());
    } finally {
      if (!testDb) await db.close();
    }
  }, 120_000);
});
