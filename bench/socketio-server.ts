/**
 * The benchmark's second baseline: a minimal Socket.IO 4 server doing the same job the way the
 * design this product replaces did it. JWT (HS256, a KeyObject, like the real server) checked in
 * the handshake (`auth: { token }`), each socket joins one room per user (`user:<sub>`) and one per
 * role; POST /api/broadcasts takes the real server's body and answers 202 `{ eventId }` after
 * `io.to(rooms).emit('announcement', envelope)` (or `io.emit` for `all`). No database, no log, no
 * replay. /metrics exports the same three figures as baseline-server.ts, under prom-client's names.
 *
 * Env: PORT, JWT_SECRET. Clients connect with `transports: ['websocket']` (no long-polling start).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import crypto from 'node:crypto';
import jwt from 'jsonwebtoken';
import { Server } from 'socket.io';

const PORT = Number(process.env.PORT ?? 0);
const SECRET = process.env.JWT_SECRET;
if (!SECRET || SECRET.length < 32) {
  process.stderr.write('socketio baseline: JWT_SECRET (32+ chars) is required\n');
  process.exit(1);
}
const KEY = crypto.createSecretKey(Buffer.from(SECRET, 'utf8'));
const BODY_LIMIT = 100 * 1024;
let lastId = 0;

function verify(token: unknown): { sub: string; role: string } | null {
  if (typeof token !== 'string') return null;
  try {
    const c = jwt.verify(token, KEY, { algorithms: ['HS256'] }) as { sub?: unknown; role?: unknown };
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

function publish(req: IncomingMessage, res: ServerResponse): void {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
  const who = verify(m?.[1]);
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
    if (typeof body.title !== 'string' || typeof body.body !== 'string') return json(res, 400, { error: { code: 'VALIDATION_FAILED' } });
    const id = String(++lastId);
    const envelope = { id, type: 'announcement', occurredAt: new Date().toISOString(), data: { title: body.title, body: body.body } };
    if (body.all === true) io.emit('announcement', envelope);
    else if (typeof body.role === 'string') io.to(`role:${body.role}`).emit('announcement', envelope);
    else if (Array.isArray(body.userIds)) io.to(body.userIds.map((u) => `user:${String(u)}`)).emit('announcement', envelope);
    else return json(res, 400, { error: { code: 'VALIDATION_FAILED' } });
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
    `sse_open_streams ${io.engine.clientsCount}\n`;
  res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
  res.end(text);
}

const server = http.createServer((req, res) => {
  // Socket.IO answers its own path (/socket.io/) before this handler runs.
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'POST' && path === '/api/broadcasts') return publish(req, res);
  if (req.method === 'GET' && path === '/metrics') return metrics(res);
  if (req.method === 'GET' && (path === '/healthz' || path === '/readyz')) return json(res, 200, { status: 'ok' });
  json(res, 404, { error: { code: 'NOT_FOUND' } });
});

const io = new Server(server, { serveClient: false, transports: ['websocket'] });
io.use((socket, next) => {
  const who = verify(socket.handshake.auth?.token);
  if (!who) return next(new Error('AUTH_INVALID'));
  socket.data.who = who;
  next();
});
io.on('connection', (socket) => {
  const who = socket.data.who as { sub: string; role: string };
  void socket.join([`user:${who.sub}`, `role:${who.role}`]);
});

server.listen(PORT, () => {
  const addr = server.address();
  process.stdout.write(`${JSON.stringify({ level: 30, msg: 'socket.io baseline listening', port: typeof addr === 'object' ? addr?.port : addr })}\n`);
});

const stop = () => {
  void io.close();
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2_000).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
