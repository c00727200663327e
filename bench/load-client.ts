/**
 * The load client: forked by run.ts into its own process, so its CPU is not the server's.
 * Holds N SSE streams over plain node:http requests (one socket each, no agent pooling) and parses
 * them with eventsource-parser; far cheaper than N EventSource objects. It records every
 * announcement it receives (deduplicated per stream by event id) and answers run.ts over IPC.
 */
import http from 'node:http';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { io as ioClient, type Socket } from 'socket.io-client';
import { nowMs, type ClientStatus, type ConnectArgs, type ConnectResult, type PhaseReport, type RpcReply, type RpcRequest, type Stamp } from './protocol';

interface Stream {
  open: boolean;
  ids: Set<string>;
  req?: http.ClientRequest;
  res?: http.IncomingMessage;
  socket?: Socket;
}

interface PhaseState {
  unique: number;
  duplicates: number;
  misdelivered: number;
  firstRecv: number | null;
  lastRecv: number | null;
  latencies: number[];
  recvTimes: number[];
  perStream: Int32Array;
}

interface Waiter {
  phase: string;
  total: number;
  done: (reached: boolean) => void;
}

let streams: Stream[] = [];
const phases = new Map<string, PhaseState>();
let waiters: Waiter[] = [];
const status = {
  closedAfterOpen: 0,
  errorsAfterOpen: {} as Record<string, number>,
  malformed: 0,
  otherEvents: {} as Record<string, number>,
  idMismatch: 0,
  bytesReceived: 0,
};
let closing = false;

const bump = (o: Record<string, number>, k: string) => (o[k] = (o[k] ?? 0) + 1);

function phaseState(name: string): PhaseState {
  let s = phases.get(name);
  if (!s) {
    s = {
      unique: 0,
      duplicates: 0,
      misdelivered: 0,
      firstRecv: null,
      lastRecv: null,
      latencies: [],
      recvTimes: [],
      perStream: new Int32Array(streams.length),
    };
    phases.set(name, s);
  }
  return s;
}

function onMessage(index: number, m: EventSourceMessage): void {
  const t = nowMs();
  if (m.event !== 'announcement') {
    bump(status.otherEvents, m.event ?? 'message');
    return;
  }
  let envelope: { id?: unknown; data?: { body?: unknown } };
  let stamp: Stamp;
  try {
    envelope = JSON.parse(m.data);
    stamp = JSON.parse(String(envelope.data?.body));
    if (typeof stamp.p !== 'string' || typeof stamp.t !== 'number') throw new Error('no stamp');
  } catch {
    status.malformed++;
    return;
  }
  const id = m.id;
  if (id === undefined || id === '') {
    status.malformed++;
    return;
  }
  if (String(envelope.id) !== id) status.idMismatch++;
  const ph = phaseState(stamp.p);
  const stream = streams[index];
  if (stream.ids.has(id)) {
    ph.duplicates++;
    return;
  }
  stream.ids.add(id);
  if (stamp.u !== undefined && stamp.u !== index) ph.misdelivered++;
  ph.unique++;
  ph.perStream[index]++;
  ph.firstRecv ??= t;
  ph.lastRecv = t;
  ph.latencies.push(t - stamp.t);
  ph.recvTimes.push(t);
  if (waiters.length > 0) checkWaiters(stamp.p);
}

function checkWaiters(phase: string): void {
  const ph = phases.get(phase);
  if (!ph) return;
  const still: Waiter[] = [];
  for (const w of waiters) {
    if (w.phase === phase && ph.unique >= w.total) w.done(true);
    else still.push(w);
  }
  waiters = still;
}

function openOne(url: string, token: string, index: number, timeoutMs: number, result: ConnectResult): Promise<void> {
  return new Promise((resolve) => {
    const stream = streams[index];
    let responded = false;
    const fail = (reason: string) => {
      if (responded) return;
      responded = true;
      clearTimeout(timer);
      result.failed++;
      bump(result.failures, reason);
      resolve();
    };
    const req = http.request(url, {
      agent: false,
      headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream', 'Cache-Control': 'no-cache' },
    });
    stream.req = req;
    const timer = setTimeout(() => {
      fail('timeout');
      req.destroy();
    }, timeoutMs);
    req.on('response', (res) => {
      if (res.statusCode !== 200 || !String(res.headers['content-type']).startsWith('text/event-stream')) {
        fail(`HTTP ${res.statusCode}`);
        res.resume();
        return;
      }
      if (responded) {
        res.destroy();
        return;
      }
      responded = true;
      clearTimeout(timer);
      stream.open = true;
      stream.res = res;
      result.opened++;
      result.openedIndices.push(index);
      result.lastOpenAt = nowMs();
      resolve();
      const parser = createParser({ onEvent: (m) => onMessage(index, m) });
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        status.bytesReceived += chunk.length;
        parser.feed(chunk);
      });
      res.on('error', (err: NodeJS.ErrnoException) => {
        if (stream.open && !closing) bump(status.errorsAfterOpen, err.code ?? err.message);
      });
      res.on('close', () => {
        if (stream.open && !closing) status.closedAfterOpen++;
        stream.open = false;
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (!responded) fail(err.code ?? err.message);
      else if (stream.open && !closing) bump(status.errorsAfterOpen, err.code ?? err.message);
    });
    req.end();
  });
}

/** The same stream over Socket.IO (websocket transport only, one connection per client, no reconnection). */
function openOneSocketIo(url: string, token: string, index: number, timeoutMs: number, result: ConnectResult): Promise<void> {
  return new Promise((resolve) => {
    const stream = streams[index];
    let settled = false;
    const socket = ioClient(url, { transports: ['websocket'], auth: { token }, forceNew: true, reconnection: false, timeout: timeoutMs });
    stream.socket = socket;
    socket.on('announcement', (envelope: { id?: string }) => {
      // Reuse the SSE path: the load client's bookkeeping is per (event id, stamp).
      onMessage(index, { event: 'announcement', id: String(envelope?.id ?? ''), data: JSON.stringify(envelope) });
    });
    socket.once('connect', () => {
      if (settled) return;
      settled = true;
      stream.open = true;
      result.opened++;
      result.openedIndices.push(index);
      result.lastOpenAt = nowMs();
      resolve();
    });
    socket.once('connect_error', (err: Error) => {
      if (settled) return;
      settled = true;
      result.failed++;
      bump(result.failures, err.message);
      socket.close();
      resolve();
    });
    socket.on('disconnect', (reason: string) => {
      if (stream.open && !closing) {
        status.closedAfterOpen++;
        bump(status.errorsAfterOpen, reason);
      }
      stream.open = false;
    });
  });
}

async function connect(a: ConnectArgs): Promise<ConnectResult> {
  streams = a.tokens.map(() => ({ open: false, ids: new Set<string>() }));
  phases.clear();
  const result: ConnectResult = {
    requested: a.tokens.length,
    opened: 0,
    failed: 0,
    failures: {},
    openedIndices: [],
    startedAt: nowMs(),
    lastOpenAt: 0,
    durationMs: 0,
  };
  let next = 0;
  const worker = async () => {
    while (next < a.tokens.length) {
      const i = next++;
      if (a.transport === 'socketio') await openOneSocketIo(a.url, a.tokens[i], i, a.timeoutMs, result);
      else await openOne(a.url, a.tokens[i], i, a.timeoutMs, result);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, a.concurrency) }, worker));
  result.openedIndices.sort((x, y) => x - y);
  result.durationMs = (result.lastOpenAt || nowMs()) - result.startedAt;
  return result;
}

function awaitPhase(phase: string, total: number, timeoutMs: number): Promise<{ reached: boolean; unique: number }> {
  const answer = (reached: boolean) => ({ reached, unique: phases.get(phase)?.unique ?? 0 });
  if ((phases.get(phase)?.unique ?? 0) >= total) return Promise.resolve(answer(true));
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      waiters = waiters.filter((w) => w !== waiter);
      resolve(answer(false));
    }, timeoutMs);
    const waiter: Waiter = {
      phase,
      total,
      done: (reached) => {
        clearTimeout(timer);
        resolve(answer(reached));
      },
    };
    waiters.push(waiter);
  });
}

function report(phase: string): PhaseReport {
  const ph = phaseState(phase);
  return {
    phase,
    unique: ph.unique,
    duplicates: ph.duplicates,
    misdelivered: ph.misdelivered,
    firstRecv: ph.firstRecv,
    lastRecv: ph.lastRecv,
    latencies: ph.latencies,
    recvTimes: ph.recvTimes,
    perStream: Array.from(ph.perStream),
  };
}

function currentStatus(): ClientStatus {
  return { open: streams.filter((s) => s.open).length, ...status };
}

function closeAll(): void {
  closing = true;
  for (const s of streams) {
    s.res?.destroy();
    s.req?.destroy();
    s.socket?.close();
  }
}

async function handle(msg: RpcRequest): Promise<unknown> {
  switch (msg.cmd) {
    case 'connect':
      return connect(msg as unknown as ConnectArgs);
    case 'await':
      return awaitPhase(String(msg.phase), Number(msg.total), Number(msg.timeoutMs));
    case 'report':
      return report(String(msg.phase));
    case 'status':
      return currentStatus();
    case 'clock':
      return { t: nowMs() };
    case 'close':
      closeAll();
      return { closed: true };
    default:
      throw new Error(`unknown command ${msg.cmd}`);
  }
}

process.on('message', (msg: RpcRequest) => {
  handle(msg).then(
    (result) => process.send?.({ rid: msg.rid, ok: true, result } satisfies RpcReply),
    (err: Error) => process.send?.({ rid: msg.rid, ok: false, error: String(err?.stack ?? err) } satisfies RpcReply),
  );
});

// The driver went away (finished or crashed): never outlive it.
process.on('disconnect', () => {
  closeAll();
  process.exit(0);
});

process.send?.({ rid: 0, ok: true, result: 'ready' } satisfies RpcReply);
