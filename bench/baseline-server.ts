/**
 * The benchmark's baseline: the same job done naively on raw node:http, with no database, no
 * framework, no log, no replay. It verifies the same JWTs (HS256 with a KeyObject, like the real
 * server), keeps a Map of open responses per user (and per role, and all), and `res.write`s framed
 * events to them. POST /api/broadcasts takes the real server's body shape and answers 202
 * `{ eventId }`; /metrics exports the three figures the benchmark reads, under prom-client's names.
 *
 * Env: PORT, JWT_SECRET, HEARTBEAT_MS (default 15000, like the real server).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import crypto from 'node:crypto';
import jwt from 'jsonwebtoken';

const PORT = Number(process.env.PORT ?? 0);
const SECRET = process.env.JWT_SECRET;
if (!SECRET || SECRET.length < 32) {
  process.stderr.write('baseline: JWT_SECRET (32+ chars) is required\n');
  process.exit(1);
}
const KEY = crypto.createSecretKey(Buffer.from(SECRET, 'utf8'));
const HEARTBEAT_MS = Number(process.env.HEARTBEAT_MS ?? 15_000);
const BODY_LIMIT = 100 * 1024;

interface Who {
  sub: string;
  role: string;
}

const byUser = new Map<string, Set<ServerResponse>>();
const byRole = new Map<string, Set<ServerResponse>>();
const everyone = new Set<ServerResponse>();
let lastId = 0;

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
    if (body.all === true) targets = everyone;
    else if (typeof body.role === 'string') targets = byRole.get(body.role) ?? [];
    else if (Array.isArray(body.userIds)) {
      const set = new Set<ServerResponse>();
      for (const u of body.userIds) for (const r of byUser.get(String(u)) ?? []) set.add(r);
      targets = set;
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
    json(res, 202, { eventId: id });
  });
}

function metrics(res: ServerResponse): void {
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  const text =
    `process_resident_memory_bytes ${mem.rss}\n` +
    `nodejs_heap_size_used_bytes ${mem.heapUsed}\n` +
    `process_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}\n` +
    `sse_open_streams ${everyone.size}\n`;
  res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
  res.end(text);
}

const server = http.createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' && path === '/api/events/stream') return stream(req, res);
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
