import os from 'node:os';
import http from 'node:http';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { sleep } from './sleep';

// Real server processes: for the suites that start, kill and restart them (shutdown,
// multi-process, faults) and for the bench, which starts its servers and baselines this way.

export const REPO_ROOT = path.resolve(__dirname, '../..');

/** Output lines kept for the message when a process dies or never gets ready. */
const TAIL_LINES = 40;

export interface ServerProcess {
  /** For messages: the name given at spawn, else the port. */
  name: string;
  child: ChildProcess;
  url: string;
  port: number;
  /** Parsed JSON log lines from stdout. */
  logs: Array<Record<string, any>>;
  stderr: () => string;
  /** The last lines of stdout and stderr together, for messages. */
  tail: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isRunning: () => boolean;
}

export interface SpawnOptions {
  name?: string;
  /** The entry point, from the repository root (default src/server.ts). */
  entry?: string;
  /** How node loads the entry (default `--import tsx`, for sources; none for compiled JavaScript). */
  loader?: string[];
  /** Node flags before the entry point (e.g. --expose-gc, another --import). */
  nodeArgs?: string[];
  /** Modules loaded after the loader, before the entry point (test-only instrumentation). */
  imports?: string[];
  /** The environment `env` is added to; default PATH and HOME only, so nothing of the caller's leaks in. */
  baseEnv?: NodeJS.ProcessEnv;
  /** An IPC channel to the child, for a preloaded module that answers the parent. */
  ipc?: boolean;
  /** Every complete line of stdout and stderr, as it arrives. */
  onLine?: (line: string) => void;
}

/** The real entry point, `node --import tsx src/server.ts`, on a clean environment. */
export function spawnServer(env: Record<string, string>, o: SpawnOptions = {}): ServerProcess {
  const loader = o.loader ?? ['--import', 'tsx'];
  const args = [...(o.nodeArgs ?? []), ...loader, ...(o.imports ?? []).flatMap((m) => ['--import', m]), o.entry ?? 'src/server.ts'];
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...(o.baseEnv ?? { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.tmpdir() }), ...env },
    stdio: o.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, any>> = [];
  const tail: string[] = [];
  let stderr = '';
  const keep = (line: string) => {
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
    o.onLine?.(line);
  };
  eachLine(child.stdout!, (line) => {
    try {
      logs.push(JSON.parse(line));
    } catch {
      logs.push({ notJson: line });
    }
    keep(line);
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  eachLine(child.stderr!, keep);
  // 'close', not 'exit': it comes after stdout is drained, so `logs` is complete by then.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  const port = Number(env.PORT);
  return {
    name: o.name ?? `server :${port}`,
    child,
    url: `http://127.0.0.1:${port}`,
    port,
    logs,
    stderr: () => stderr,
    tail: () => tail.join('\n'),
    exited,
    isRunning: () => child.exitCode === null && child.signalCode === null,
  };
}

/** Calls `onLine` for each complete, non-blank line of a stream. */
function eachLine(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) if (line.trim()) onLine(line);
  });
}

/**
 * Waits until `readyPath` answers 200, failing at once when the process exits. Each check is a
 * connection of its own (no keep-alive), so the server holds no socket of the caller's afterwards.
 */
export async function waitReady(srv: ServerProcess, timeoutMs = 60_000, readyPath = '/readyz'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!srv.isRunning()) {
      throw new Error(`${srv.name} exited during startup (code ${srv.child.exitCode}, signal ${srv.child.signalCode}):\n${srv.tail()}`);
    }
    const status = await httpStatus(`${srv.url}${readyPath}`).catch(() => 0);
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`${srv.name}: ${readyPath} not 200 after ${timeoutMs} ms (last ${status}):\n${srv.tail()}`);
    await sleep(100);
  }
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Spawns and waits for /readyz. */
export async function startServerProcess(env: Record<string, string>, o: SpawnOptions = {}): Promise<ServerProcess> {
  const srv = spawnServer(env, o);
  try {
    await waitReady(srv);
  } catch (err) {
    await killServer(srv);
    throw err;
  }
  return srv;
}

export async function killServer(srv: ServerProcess | undefined, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (!srv?.isRunning()) return;
  srv.child.kill(signal);
  await srv.exited;
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Environment every fault-suite server starts with; tests add DATABASE_URL, PORT and their own. */
export function baseEnv(jwtSecret: string): Record<string, string> {
  return {
    NODE_ENV: 'test',
    JWT_SECRET: jwtSecret,
    LOG_LEVEL: 'info',
    STREAM_RETRY_MS: '100',
    // Tests hammer the API from one address; the limits have their own tests.
    AUTH_FAILURE_LIMIT_PER_5MIN: '1000000',
    POLL_RATE_LIMIT_PER_MIN: '1000000',
    WRITE_RATE_LIMIT_PER_MIN: '0',
    MAX_PENDING_BOOKINGS_PER_PAIR: '10000',
  };
}
