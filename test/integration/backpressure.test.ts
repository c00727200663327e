import net from 'node:net';
import request from 'supertest';
import { describeDb } from '../support/test-db';
import { startTestServer, type TestServer } from '../support/test-server';
import { openStream, type TestStream } from '../support/sse-client';
import { compareIds } from '../../src/events/event-log';
import { toEnvelope, type EventRecord } from '../../src/events/event-types';

const CAP = 64 * 1024;
const PAYLOAD = 'x'.repeat(64 * 1024);
/** Published to a client that does not read; a server still queuing past this has no bound. */
const HARD_LIMIT_BYTES = 64 * 1024 * 1024;
/** SSE field names, chunked-encoding framing and an occasional heartbeat comment around one event's JSON. */
const FRAME_OVERHEAD = 256;

interface RawEvent {
  id?: string;
  event?: string;
  data: string;
}

/**
 * A stream client on a bare socket that stops reading after the response headers, as a stalled
 * phone or a stuck proxy would. What it received stays in the kernel until `readToEnd()`.
 */
class StalledClient {
  status = 0;
  private body = Buffer.alloc(0);
  private closedWith: { error?: Error } | null = null;
  readonly closed: Promise<{ error?: Error }>;

  private constructor(readonly socket: net.Socket) {
    let error: Error | undefined;
    socket.on('error', (e) => (error = e));
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.closedWith = { error };
        resolve(this.closedWith);
      }),
    );
  }

  static async open(baseUrl: string, token: string): Promise<StalledClient> {
    const { hostname, port } = new URL(baseUrl);
    const socket = net.connect({ host: hostname, port: Number(port) });
    const client = new StalledClient(socket);
    await new Promise<void>((resolve, reject) => {
      let head = Buffer.alloc(0);
      const onClose = () => fail(new Error('closed before the response headers'));
      const timer = setTimeout(() => fail(new Error('no response headers within 5 s')), 5_000);
      const fail = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        // Stop reading right here: from now on nothing is taken off the socket.
        socket.pause();
        socket.off('data', onData);
        socket.off('close', onClose);
        clearTimeout(timer);
        client.status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head.toString('latin1'))?.[1]);
        client.body = head.subarray(end + 4);
        resolve();
      };
      socket.on('data', onData);
      socket.once('close', onClose);
      socket.write(`GET /api/events/stream HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAccept: text/event-stream\r\n` + `Authorization: Bearer ${token}\r\n\r\n`);
    });
    return client;
  }

  get isClosed(): boolean {
    return this.closedWith !== null;
  }

  /** Starts reading again and collects everything until the connection ends. */
  async readToEnd(timeoutMs: number): Promise<{ error?: Error }> {
    this.socket.on('data', (chunk: Buffer) => (this.body = Buffer.concat([this.body, chunk])));
    this.socket.resume();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`connection still open ${timeoutMs} ms after reading resumed`)), timeoutMs);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The complete events in what was received (a cut-off last one is ignored, as EventSource does). */
  events(): RawEvent[] {
    const blocks = dechunk(this.body).toString('utf8').split('\n\n');
    blocks.pop();
    return blocks
      .map((block) => {
        const e: RawEvent = { data: '' };
        for (const line of block.split('\n')) {
          const m = /^([^:]*): ?(.*)$/.exec(line);
          if (!m || m[1] === '') continue;
          if (m[1] === 'id') e.id = m[2];
          else if (m[1] === 'event') e.event = m[2];
          else if (m[1] === 'data') e.data += m[2];
        }
        return e;
      })
      .filter((e) => e.event !== undefined);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Undoes `Transfer-Encoding: chunked`; a chunk cut off by the connection's end keeps its received part. */
function dechunk(raw: Buffer): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', pos);
    if (eol < 0) break;
    const size = parseInt(raw.subarray(pos, eol).toString('latin1'), 16);
    if (!Number.isFinite(size)) throw new Error(`bad chunk header at byte ${pos}`);
    if (size === 0) break;
    const start = eol + 2;
    out.push(raw.subarray(start, Math.min(start + size, raw.length)));
    if (start + size + 2 > raw.length) break;
    pos = start + size + 2;
  }
  return Buffer.concat(out);
}

/** Resolves with the first value `probe` returns that satisfies `ok`; polls, and fails after `timeoutMs`. */
async function waitUntil<T>(probe: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describeDb('a client that stops reading is dropped instead of being buffered without bound', () => {
  let srv: TestServer;
  const streams: TestStream[] = [];
  const raws: StalledClient[] = [];

  // A server per test: each asserts the server's own slow-consumer count.
  beforeEach(async () => {
    srv = await startTestServer({ STREAM_QUEUE_CAP_BYTES: String(CAP) });
  });
  afterEach(async () => {
    streams.splice(0).forEach((s) => s.close());
    raws.splice(0).forEach((r) => r.destroy());
    await srv.stop();
  });

  const status = async () => {
    const res = await request(srv.url).get('/api/status');
    expect(res.status).toBe(200);
    return res.body;
  };
  const dropLines = () => srv.logs.filter((l) => l.code === 'SLOW_CONSUMER_DROPPED');
  const openStalled = async (user: string) => {
    const raw = await StalledClient.open(srv.url, srv.token(user, 'client'));
    raws.push(raw);
    expect(raw.status).toBe(200);
    return raw;
  };

  /**
   * Publishes 64 KiB events to `stalledUser` (and, in the same transactions, a small one to
   * `readerUser`) until the server drops the stalled stream. Each round waits for the relay to
   * have dispatched it, so the check after it is exact.
   */
  async function publishUntilDropped(raw: StalledClient, stalledUser: string, readerUser?: string) {
    const big: EventRecord[] = [];
    const small: EventRecord[] = [];
    let published = 0;
    for (let n = 0; dropLines().length === 0 && !raw.isClosed; n++) {
      if (published >= HARD_LIMIT_BYTES) {
        throw new Error(`${published} bytes published to a client that reads nothing, and the server never dropped it`);
      }
      const events = await srv.publish(
        { type: 'test.event', audience: [`user:${stalledUser}`], payload: { n, blob: PAYLOAD } },
        ...(readerUser ? [{ type: 'test.other', audience: [`user:${readerUser}` as const], payload: { n } }] : []),
      );
      await srv.running.services.relay.settle();
      // Back to the event loop, as between two real requests: the server's writes are corked
      // until its next tick, and with PGlite a publish can complete without ever leaving the
      // microtask queue, so without this nothing would reach the socket at all.
      await new Promise((resolve) => setImmediate(resolve));
      big.push(...events.filter((e) => e.type === 'test.event'));
      small.push(...events.filter((e) => e.type === 'test.other'));
      published += PAYLOAD.length;
    }
    return { big, small };
  }

  it('does not drop a reading client that gets a burst larger than the cap in one go', async () => {
    const s = await openStream(srv.url, { token: srv.token('bursty', 'client') });
    streams.push(s);
    const burst = await srv.publish(
      ...[1, 2, 3, 4].map((n) => ({ type: 'test.event', audience: ['user:bursty' as const], payload: { n, blob: 'x'.repeat(CAP / 2) } })),
    );
    await s.waitForCount(4);
    expect(s.ids).toEqual(burst.map((e) => e.id));
    expect(s.errors).toEqual([]);
    expect(dropLines()).toEqual([]);
  });

  it('drops the stalled stream once its queue passes the cap, and a reading client on the same server keeps its events', async () => {
    const reader = await openStream(srv.url, { token: srv.token('reader', 'client') });
    streams.push(reader);
    const raw = await openStalled('stalled');
    await waitUntil(status, (s) => s.streams.open === 2, 'both streams open');

    const { big, small } = await publishUntilDropped(raw, 'stalled', 'reader');

    // The warn line says who, why and how much was queued: never more than the cap plus one event.
    const lines = dropLines();
    expect(lines).toEqual([expect.objectContaining({ level: 40, code: 'SLOW_CONSUMER_DROPPED', userId: 'stalled', queuedBytes: expect.any(Number) })]);
    const oneEvent = Math.max(...big.map((e) => Buffer.byteLength(JSON.stringify(toEnvelope(e))))) + FRAME_OVERHEAD;
    const queued = lines[0].queuedBytes as number;
    expect(queued).toBeGreaterThan(CAP);
    expect(queued).toBeLessThanOrEqual(CAP + oneEvent);

    // The server destroyed the connection: once the client reads again, it sees the end.
    const end = await raw.readToEnd(10_000);
    expect(raw.isClosed).toBe(true);
    // What did get through is an in-order prefix of its events, and not all of them.
    const got = raw.events();
    expect(got.map((e) => e.id)).toEqual(big.slice(0, got.length).map((e) => e.id));
    expect(got.length).toBeLessThan(big.length);
    expect(end.error === undefined || (end.error as NodeJS.ErrnoException).code === 'ECONNRESET').toBe(true);

    const after = await waitUntil(status, (s) => s.streams.open === 1, 'the dropped stream to be gone');
    expect(after.slowConsumersDropped).toBe(1);
    expect(after.streams.connectedUsers).toBe(1);

    // The reading client got every one of its events, in order, and is still live.
    await reader.waitForCount(small.length, 10_000);
    const [afterDrop] = await srv.publish({ type: 'test.other', audience: ['user:reader'], payload: { n: 'after' } });
    await reader.waitForCount(small.length + 1);
    expect(reader.ids).toEqual([...small.map((e) => e.id), afterDrop.id]);
    expect(reader.errors).toEqual([]);
    expect(reader.es.readyState).toBe(reader.es.OPEN);

    reader.close();
    const closed = await waitUntil(status, (s) => s.streams.open === 0, 'all streams closed');
    expect(closed.slowConsumersDropped).toBe(1);
  }, 90_000);

  it('the dropped client resumes with Last-Event-ID and receives the rest in order', async () => {
    const raw = await openStalled('stalled');
    await waitUntil(status, (s) => s.streams.open === 1, 'the stream to be open');

    const { big } = await publishUntilDropped(raw, 'stalled');
    await raw.readToEnd(10_000);
    const got = raw.events();
    expect(got.map((e) => e.id)).toEqual(big.slice(0, got.length).map((e) => e.id));
    const lastId = got.length > 0 ? got[got.length - 1].id! : '0';
    const rest = big.filter((e) => compareIds(e.id, lastId) > 0);
    // At least the event whose write found the queue over the cap never went out.
    expect(rest.length).toBeGreaterThan(0);

    const resumed = await openStream(srv.url, { token: srv.token('stalled', 'client'), lastEventId: lastId });
    streams.push(resumed);
    await resumed.waitForCount(rest.length, 20_000);
    const [live] = await srv.publish({ type: 'test.event', audience: ['user:stalled'], payload: { n: 'live' } });
    await resumed.waitForCount(rest.length + 1);

    expect(resumed.ids).toEqual([...rest.map((e) => e.id), live.id]);
    expect(resumed.events.map((e) => e.data.data.n)).toEqual([...rest.map((e) => (e.payload as { n: number }).n), 'live']);
    expect(resumed.events.every((e) => e.type !== 'reset')).toBe(true);
    expect(resumed.events[0].data.data.blob).toBe(PAYLOAD);

    // Replay waits for the socket instead of queuing past the cap: the resumed stream was not dropped.
    const s = await status();
    expect(s.slowConsumersDropped).toBe(1);
    expect(s.streams.open).toBe(1);
    expect(dropLines()).toHaveLength(1);
  }, 90_000);
});
