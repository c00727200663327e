/**
 * The benchmark's baseline: the same job done naively on raw node:http, with no database, no
 * framework, no log, no replay. It verifies the same JWTs (HS256 with a KeyObject, like the real
 * server), keeps a Map of open responses per user (and per role, and all), and `res.write`s framed
 * events to them. POST /api/broadcasts takes the real server's body shape and answers 202
 * `{ eventId }`; /metrics exports the figures the benchmark reads, under prom-client's names.
 *
 * GET /api/events?after=<id>&limit=<n> answers polls in the real server's shape from the last
 * LOG_CAPACITY events it published, held in an array: the api phase's lower bound for polling.
 *
 * Env: PORT, JWT_SECRET, HEARTBEAT_MS (default 15000, like the real server), POLL_INTERVAL_MS
 * (default 60000, like the real server).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import crypto from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import jwt from 'jsonwebtoken';

const PORT = Number(process.env.PORT ?? 0);
const SECRET = process.env.JWT_SECRET;
if (!SECRET || SECRET.length < 32) {
  process.stderr.write('baseline: JWT_SECRET (32+ chars) is required\n');
  process.exit(1);
}
const KEY = crypto.createSecretKey(Buffer.from(SECRET, 'utf8'));
const HEARTBEAT_MS = Number(process.env.HEARTBEAT_MS ?? 15_000);
const POLL_INTERVAL_MS = Number(process.env.POLL_INTERVAL_MS ?? 60_000);
const BODY_LIMIT = 100 * 1024;
const LOG_CAPACITY = 10_000;
// The real server's rule for `after` (src/events/event-log.ts): a malformed cursor is a 400.
const EVENT_ID = /^(0|[1-9]\d{0,17})$/;

interface Who {
  sub: string;
  role: string;
}

const byUser = new Map<string, Set<ServerResponse>>();
const byRole = new Map<string, Set<ServerResponse>>();
const everyone = new Set<ServerResponse>();
let lastId = 0;

interface Envelope {
  id: string;
  type: string;
  occurredAt: string;
  data: unknown;
}
/** The published events, oldest first; ids are consecutive, so an id's index is arithmetic. */
const log: Array<{ audience: string[]; envelope: Envelope }> = [];

function authenticate(req: IncomingMessage): Who | null {
  const m = /^Bearer ([A-Za-z0-9_\-.=]+)$/.exec(req.headers.authorization ?? '');
  if (!m) return null;
  try {
    const c = jwt.verify(m[1], KEY, { algorithms: ['HS256'] }) as Partial<Who>;
    if (typeof c.sub !== 'string' || typeof c.role !== 'string') return null;
    return { sub: c.sub, role: c.role };
  } catch {
    return null;
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function addTo(map: Map<string, Set<ServerResponse>>, key: string, res: ServerResponse): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(res);
}

function removeFrom(map: Map<string, Set<ServerResponse>>, key: string, res: ServerResponse): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(res);
  if (set.size === 0) map.delete(key);
}

function stream(req: IncomingMessage, res: ServerResponse): void {
  const who = authenticate(req);
  if (!who) return json(res, 401, { error: { code: 'AUTH_INVALID' } });
  req.socket.setNoDelay(true);
  res.writeHead(200, {
    'Content-Type': 'text/event-stream',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  res.write('retry: 2000\n\n');
  addTo(byUser, who.sub, res);
  addTo(byRole, who.role, res);
  everyone.add(res);
  res.on('close', () => {
    removeFrom(byUser, who.sub, res);
    removeFrom(byRole, who.role, res);
    everyone.delete(res);
  });
}

function publish(req: IncomingMessage, res: ServerResponse): void {
  const who = authenticate(req);
  if (!who) return json(res, 401, { error: { code: 'AUTH_INVALID' } });
  if (who.role !== 'admin') return json(res, 403, { error: { code: 'FORBIDDEN' } });
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > BODY_LIMIT) req.destroy();
    else chunks.push(c);
  });
  req.on('end', () => {
    let body: { title?: unknown; body?: unknown; all?: unknown; userIds?: unknown; role?: unknown };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return json(res, 400, { error: { code: 'VALIDATION_FAILED' } });
    }
    if (typeof body.title !== 'string' || typeof body.body !== 'string') {
      return json(res, 400, { error: { code: 'VALIDATION_FAILED' } });
    }
    let targets: Iterable<ServerResponse>;
    let audience: string[];
    if (body.all === true) {
      targets = everyone;
      audience = ['all'];
    } else if (typeof body.role === 'string') {
      targets = byRole.get(body.role) ?? [];
      audience = [`role:${body.role}`];
    } else if (Array.isArray(body.userIds)) {
      const set = new Set<ServerResponse>();
      for (const u of body.userIds) for (const r of byUser.get(String(u)) ?? []) set.add(r);
      targets = set;
      audience = [...new Set(body.userIds.map((u) => `user:${u}`))];
    } else return json(res, 400, { error: { code: 'VALIDATION_FAILED' } });

    const id = String(++lastId);
    const envelope = {
      id,
      type: 'announcement',
      occurredAt: new Date().toISOString(),
      data: { title: body.title, body: body.body },
    };
    const frame = `id: ${id}\nevent: announcement\ndata: ${JSON.stringify(envelope)}\n\n`;
    for (const r of targets) r.write(frame);
    log.push({ audience, envelope });
    if (log.length > LOG_CAPACITY) log.shift();
    json(res, 202, { eventId: id });
  });
}

/**
 * The real server's answers (src/realtime/poll.ts): no `after` is "from now"; a page of
 * the caller's events after `after`, with `lastEventId` the newest id unless the page is cut
 * short by `limit`; a cursor that fell out of the log, or is ahead of it, is a reset.
 */
function poll(req: IncomingMessage, res: ServerResponse, query: string): void {
  const who = authenticate(req);
  if (!who) return json(res, 401, { error: { code: 'AUTH_INVALID' } });
  const q = new URLSearchParams(query);
  const after = q.get('after');
  const limitText = q.get('limit');
  const limit = limitText === null ? 100 : Number(limitText);
  if ((after !== null && !EVENT_ID.test(after)) || !Number.isInteger(limit) || limit < 1 || limit > 500) {
    return json(res, 400, { error: { code: 'VALIDATION_FAILED' } });
  }
  const newest = String(lastId);
  const empty = (reset: boolean) => json(res, 200, { events: [], lastEventId: newest, hasMore: false, reset, pollIntervalMs: POLL_INTERVAL_MS });
  if (after === null) return empty(false);
  const a = Number(after);
  const first = lastId - log.length + 1;
  if (a < first - 1 || a > lastId) return empty(true);
  const user = `user:${who.sub}`;
  const role = `role:${who.role}`;
  const events: Envelope[] = [];
  for (let i = a - first + 1; i < log.length; i++) {
    const e = log[i];
    if (!e.audience.some((c) => c === 'all' || c === user || c === role)) continue;
    if (events.length === limit)
      return json(res, 200, { events, lastEventId: events[limit - 1].id, hasMore: true, reset: false, pollIntervalMs: POLL_INTERVAL_MS });
    events.push(e.envelope);
  }
  json(res, 200, { events, lastEventId: newest, hasMore: false, reset: false, pollIntervalMs: POLL_INTERVAL_MS });
}

// As prom-client measures it for the real server (10 ms resolution, reset at every scrape), so the
// api phase's event-loop figures compare like with like.
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

function metrics(res: ServerResponse): void {
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  const text =
    `process_resident_memory_bytes ${mem.rss}\n` +
    `nodejs_heap_size_used_bytes ${mem.heapUsed}\n` +
    `process_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}\n` +
    `sse_open_streams ${everyone.size}\n` +
    `nodejs_eventloop_lag_p99_seconds ${loopDelay.percentile(99) / 1e9}\n` +
    `nodejs_eventloop_lag_max_seconds ${loopDelay.max / 1e9}\n`;
  loopDelay.reset();
  res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
  res.end(text);
}

const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  const qs = url.indexOf('?');
  const path = qs < 0 ? url : url.slice(0, qs);
  if (req.method === 'GET' && path === '/api/events/stream') return stream(req, res);
  if (req.method === 'GET' && path === '/api/events') return poll(req, res, qs < 0 ? '' : url.slice(qs + 1));
  if (req.method === 'POST' && path === '/api/broadcasts') return publish(req, res);
  if (req.method === 'GET' && path === '/metrics') return metrics(res);
  if (req.method === 'GET' && (path === '/healthz' || path === '/readyz')) return json(res, 200, { status: 'ok' });
  json(res, 404, { error: { code: 'NOT_FOUND' } });
});

const heartbeat = setInterval(() => {
  for (const r of everyone) r.write(':\n\n');
}, HEARTBEAT_MS);
heartbeat.unref();

server.listen(PORT, () => {
  const addr = server.address();
  process.stdout.write(`${JSON.stringify({ level: 30, msg: 'baseline listening', port: typeof addr === 'object' ? addr?.port : addr })}\n`);
});

const stop = () => {
  for (const r of everyone) r.end();
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2_000).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
