/**
 * The long-poll client: forked by longpoll.ts into its own process, so its CPU is not the
 * server's. Each poller is one user polling as a phone does: one plain keep-alive connection of
 * its own (an http.Agent with one socket), a first `GET /api/events` for the starting cursor, then
 * `GET /api/events?after=<last id it got>&wait=<s>` again and again, re-polling at once after
 * every answer. It records every announcement it receives (deduplicated per poller by event id)
 * and answers the driver over IPC, with the same commands and reports as load-client.ts.
 */
import http from 'node:http';
import { nowMs, type PhaseReport, type RpcReply, type RpcRequest, type Stamp } from './protocol';

export interface LongPollStartArgs {
  url: string;
  tokens: string[];
  /** The `wait` each long poll asks for (s). */
  wait: number;
  /** Pollers starting (first poll in flight) at once. */
  concurrency: number;
}

export interface LongPollStatus {
  pollers: number;
  /** Pollers whose long poll is in flight right now. */
  inFlight: number;
  /** Requests sent so far, over all pollers (first polls included). */
  requests: number;
  /** Answers with no event (the wait ran out, or the server was releasing). */
  emptyAnswers: number;
  /** Failure (HTTP status or socket error code) -> count. */
  errors: Record<string, number>;
  /** Answers that were not the poll's JSON, or an announcement without a Stamp. */
  malformed: number;
  /** Events other than announcements, by type. */
  otherEvents: Record<string, number>;
  resets: number;
}

interface Poller {
  index: number;
  token: string;
  agent: http.Agent;
  cursor: string | null;
  inFlight: boolean;
  ids: Set<string>;
  req?: http.ClientRequest;
}

interface PhaseState {
  unique: number;
  duplicates: number;
  misdelivered: number;
  firstRecv: number | null;
  lastRecv: number | null;
  latencies: number[];
  recvTimes: number[];
  perPoller: Map<number, number>;
}

const pollers: Poller[] = [];
let baseUrl = '';
let waitS = 25;
let closing = false;
const phases = new Map<string, PhaseState>();
let waiters: Array<{ phase: string; total: number; done: (reached: boolean) => void }> = [];
const status = { requests: 0, emptyAnswers: 0, errors: {} as Record<string, number>, malformed: 0, otherEvents: {} as Record<string, number>, resets: 0 };

const bump = (o: Record<string, number>, k: string) => (o[k] = (o[k] ?? 0) + 1);

function phaseState(name: string): PhaseState {
  let s = phases.get(name);
  if (!s) {
    s = { unique: 0, duplicates: 0, misdelivered: 0, firstRecv: null, lastRecv: null, latencies: [], recvTimes: [], perPoller: new Map() };
    phases.set(name, s);
  }
  return s;
}

function onEvent(p: Poller, e: { id?: unknown; type?: unknown; data?: { body?: unknown } }, t: number): void {
  if (e.type !== 'announcement') {
    bump(status.otherEvents, String(e.type));
    return;
  }
  let stamp: Stamp;
  try {
    stamp = JSON.parse(String(e.data?.body));
    if (typeof stamp.p !== 'string' || typeof stamp.t !== 'number') throw new Error('no stamp');
  } catch {
    status.malformed++;
    return;
  }
  const id = typeof e.id === 'string' ? e.id : '';
  const ph = phaseState(stamp.p);
  if (p.ids.has(id)) {
    ph.duplicates++;
    return;
  }
  p.ids.add(id);
  if (stamp.u !== undefined && stamp.u !== p.index) ph.misdelivered++;
  ph.unique++;
  ph.perPoller.set(p.index, (ph.perPoller.get(p.index) ?? 0) + 1);
  ph.firstRecv ??= t;
  ph.lastRecv = t;
  ph.latencies.push(t - stamp.t);
  ph.recvTimes.push(t);
  if (waiters.length > 0) {
    const still = waiters.filter((w) => {
      if (w.phase !== stamp.p || ph.unique < w.total) return true;
      w.done(true);
      return false;
    });
    waiters = still;
  }
}

/** One request of poller `p`; resolves when it is answered or failed, and says whether it got a 200. */
function pollOnce(p: Poller): Promise<boolean> {
  const query = p.cursor === null ? '' : `?after=${encodeURIComponent(p.cursor)}&wait=${waitS}`;
  return new Promise((resolve) => {
    status.requests++;
    p.inFlight = p.cursor !== null;
    const req = http.request(`${baseUrl}/api/events${query}`, {
      agent: p.agent,
      headers: { Authorization: `Bearer ${p.token}`, Accept: 'application/json' },
    });
    p.req = req;
    const fail = (reason: string) => {
      p.inFlight = false;
      if (!closing) bump(status.errors, reason);
      resolve(false);
    };
    req.on('response', (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (data += c));
      res.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
      res.on('end', () => {
        const t = nowMs();
        p.inFlight = false;
        if (res.statusCode !== 200) {
          if (!closing) bump(status.errors, `HTTP ${res.statusCode}`);
          return resolve(false);
        }
        let body: { events?: unknown; lastEventId?: unknown; reset?: unknown };
        try {
          body = JSON.parse(data);
          if (!Array.isArray(body.events) || typeof body.lastEventId !== 'string') throw new Error('not a poll answer');
        } catch {
          status.malformed++;
          return resolve(false);
        }
        if (body.reset === true) status.resets++;
        if (p.cursor !== null && body.events.length === 0) status.emptyAnswers++;
        for (const e of body.events as Array<Parameters<typeof onEvent>[1]>) onEvent(p, e, t);
        p.cursor = body.lastEventId;
        resolve(true);
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
    req.end();
  });
}

/** Polls until the benchmark closes: at once after an answer, after a second after a failure. */
async function run(p: Poller, started: () => void): Promise<void> {
  let first = true;
  while (!closing) {
    const answered = pollOnce(p);
    // Started once its first long poll (with a cursor) is on the wire.
    if (first && p.cursor !== null) {
      first = false;
      started();
    }
    const ok = await answered;
    if (!ok && !closing) await new Promise((r) => setTimeout(r, 1_000));
  }
}

async function start(a: LongPollStartArgs): Promise<{ started: number; durationMs: number }> {
  baseUrl = a.url;
  waitS = a.wait;
  const t0 = nowMs();
  const fresh: Poller[] = a.tokens.map((token, i) => ({
    index: pollers.length + i,
    token,
    agent: new http.Agent({ keepAlive: true, maxSockets: 1 }),
    cursor: null,
    inFlight: false,
    ids: new Set<string>(),
  }));
  pollers.push(...fresh);
  let next = 0;
  let started = 0;
  const worker = async () => {
    while (next < fresh.length) {
      const p = fresh[next++];
      await new Promise<void>((resolve) => {
        void run(p, () => {
          started++;
          resolve();
        });
        // A poller whose first poll keeps failing must not hold up the others forever.
        setTimeout(resolve, 30_000);
      });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, a.concurrency) }, worker));
  return { started, durationMs: nowMs() - t0 };
}

function awaitPhase(phase: string, total: number, timeoutMs: number): Promise<{ reached: boolean; unique: number }> {
  const answer = (reached: boolean) => ({ reached, unique: phases.get(phase)?.unique ?? 0 });
  if ((phases.get(phase)?.unique ?? 0) >= total) return Promise.resolve(answer(true));
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      waiters = waiters.filter((w) => w !== waiter);
      resolve(answer(false));
    }, timeoutMs);
    const waiter = {
      phase,
      total,
      done: (reached: boolean) => {
        clearTimeout(timer);
        resolve(answer(reached));
      },
    };
    waiters.push(waiter);
  });
}

function report(phase: string): PhaseReport {
  const ph = phaseState(phase);
  const perStream = new Array<number>(pollers.length).fill(0);
  for (const [i, n] of ph.perPoller) perStream[i] = n;
  const { perPoller: _omit, ...rest } = ph;
  return { phase, ...rest, perStream };
}

function currentStatus(): LongPollStatus {
  return { pollers: pollers.length, inFlight: pollers.filter((p) => p.inFlight).length, ...status };
}

function closeAll(): void {
  closing = true;
  for (const p of pollers) {
    p.req?.destroy();
    p.agent.destroy();
  }
}

async function handle(msg: RpcRequest): Promise<unknown> {
  switch (msg.cmd) {
    case 'start':
      return start(msg as unknown as LongPollStartArgs);
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
