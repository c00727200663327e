import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';

// Real server processes for the suites that start, kill and restart them (shutdown, multi-process, faults).

export const REPO_ROOT = path.resolve(__dirname, '../..');

/** A port nobody listens on right now (bound the way the server binds: all interfaces). */
export async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

export interface ServerProcess {
  /** For messages: the name given at spawn, else the port. */
  name: string;
  child: ChildProcess;
  url: string;
  port: number;
  /** Parsed JSON log lines from stdout. */
  logs: Array<Record<string, any>>;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isRunning: () => boolean;
}

export interface SpawnOptions {
  name?: string;
  /** Node flags before the entry point (e.g. --expose-gc, another --import). */
  nodeArgs?: string[];
  /** Modules loaded after tsx, before the entry point (test-only instrumentation). */
  imports?: string[];
}

/** The real entry point, `node --import tsx src/server.ts`, on a clean environment. */
export function spawnServer(env: Record<string, string>, o: SpawnOptions = {}): ServerProcess {
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), '--import', 'tsx', ...(o.imports ?? []).flatMap((m) => ['--import', m]), 'src/server.ts'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.tmpdir(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, any>> = [];
  let partial = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines.filter(Boolean)) {
      try {
        logs.push(JSON.parse(line));
      } catch {
        logs.push({ notJson: line });
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
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
    exited,
    isRunning: () => child.exitCode === null && child.signalCode === null,
  };
}

export async function waitReady(srv: ServerProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!srv.isRunning()) throw new Error(`${srv.name} exited during startup: ${srv.stderr()} ${JSON.stringify(srv.logs.slice(-20))}`);
    const status = await fetch(`${srv.url}/readyz`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`${srv.name}: /readyz not 200 after ${timeoutMs} ms (last ${status}); stderr: ${srv.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
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
