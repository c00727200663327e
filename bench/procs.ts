/** Child processes of the benchmark, their IPC, and cleanup that runs however the run ends. */
import { fork, execFileSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { nowMs, type RpcReply } from './protocol';
import { sleep } from '../test/support/sleep';
import { REPO_ROOT, spawnServer, waitReady } from '../test/support/server-process';

export const ROOT = REPO_ROOT;

// ---------------------------------------------------------------------------------------------
// Compiled or sources. Production runs the tsc output (`node dist/src/server.js`, the Procfile);
// under tsx every function expression is wrapped by esbuild's keepNames (`__name(fn, "x")`),
// which redefines `name` on each closure created: a 256-byte property store per closure and a
// defineProperty per creation. So by default the benchmark compiles the servers and workers with
// tsc into bench/results/build/ (bench/tsconfig.build.json) and runs that; `--tsx` runs sources.

export const BUILD_DIR = path.join(ROOT, 'bench', 'results', 'build');
let compiled = false;

/** Compiles src/, migrations/ and the benchmark's server-side files once; later servers run the output. */
export function useCompiledServers(log: (msg: string) => void): void {
  const t = Date.now();
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'bench', 'tsconfig.build.json')], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  compiled = true;
  log(`compiled the servers with tsc into ${path.relative(ROOT, BUILD_DIR)}/ in ${Date.now() - t} ms (--tsx runs the sources instead)`);
}

export const serversCompiled = () => compiled;

/** How node runs a repository file (`src/server.ts`, `bench/x.ts`): its tsc output, or the source under tsx. */
export function runnable(relTs: string): { file: string; execArgv: string[] } {
  if (!compiled) return { file: relTs, execArgv: ['--import', 'tsx'] };
  return { file: path.join(path.relative(ROOT, BUILD_DIR), relTs.replace(/\.ts$/, '.js')), execArgv: [] };
}

// ---------------------------------------------------------------------------------------------
// Cleanup: LIFO, each step once, on normal end, on error, and on SIGINT/SIGTERM.

type Cleanup = { name: string; fn: () => Promise<void> | void };
const cleanups: Cleanup[] = [];
let cleaning: Promise<void> | null = null;

/** Registers a cleanup step; returns a function that runs it now (and unregisters it). */
export function onCleanup(name: string, fn: () => Promise<void> | void): () => Promise<void> {
  const entry: Cleanup = { name, fn };
  cleanups.push(entry);
  return async () => {
    const i = cleanups.indexOf(entry);
    if (i < 0) return;
    cleanups.splice(i, 1);
    await entry.fn();
  };
}

export function runCleanups(): Promise<void> {
  return (cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const c = cleanups.pop()!;
      try {
        await c.fn();
      } catch (err) {
        process.stderr.write(`cleanup "${c.name}" failed: ${(err as Error).message}\n`);
      }
    }
  })().finally(() => {
    cleaning = null;
  }));
}

let aborting = false;
let abortedAt = 0;

/** True once SIGINT/SIGTERM/SIGHUP arrived: start nothing new, the run is being torn down. */
export const isAborting = () => aborting;

export function assertNotAborting(): void {
  if (aborting) throw new Error('interrupted');
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    if (aborting) {
      // Ctrl-C reaches us twice (the terminal's process group, and tsx relaying it): only a
      // signal well after the first one means "stop waiting for cleanup".
      if (Date.now() - abortedAt < 3_000) return;
      process.stderr.write(`${sig} again: exiting without finishing cleanup\n`);
      process.exit(130);
    }
    aborting = true;
    abortedAt = Date.now();
    process.stderr.write(`\n${sig}: stopping child processes and dropping the database...\n`);
    // Killing the children makes the main flow fail fast; it then runs the cleanups again (for
    // anything registered meanwhile) and exits. This timer is the backstop if it does not.
    void runCleanups().finally(() => setTimeout(() => process.exit(130), 10_000));
  });
}

// ---------------------------------------------------------------------------------------------

/** The soft and hard open-file limits children inherit (Node has no getrlimit). */
export function fdLimits(): { soft: number; hard: number } {
  const read = (flag: string) => {
    try {
      const out = execFileSync('/bin/sh', ['-c', `ulimit ${flag}`], { encoding: 'utf8' }).trim();
      return out === 'unlimited' ? Infinity : Number(out);
    } catch {
      return NaN;
    }
  };
  return { soft: read('-Sn'), hard: read('-Hn') };
}

// ---------------------------------------------------------------------------------------------
// Request/response over a child's IPC channel.

export class Rpc {
  private nextRid = 1;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited: Error | null = null;

  constructor(
    private readonly child: ChildProcess,
    label: string,
  ) {
    child.on('message', (m: RpcReply) => {
      const p = this.pending.get(m?.rid);
      if (!p) return;
      this.pending.delete(m.rid);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`${label}: ${m.error}`));
    });
    child.on('exit', (code, signal) => {
      this.exited = new Error(`${label} exited (code ${code}, signal ${signal})`);
      for (const p of this.pending.values()) p.reject(this.exited);
      this.pending.clear();
    });
  }

  call<T>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 120_000): Promise<T> {
    if (this.exited) return Promise.reject(this.exited);
    const rid = this.nextRid++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(rid);
        reject(new Error(`rpc ${cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(rid, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ rid, cmd, ...args });
    });
  }
}

/** Sends SIGTERM, waits up to `graceMs` for exit, then SIGKILL. Resolves once the child is gone. */
export async function stopChild(child: ChildProcess, graceMs: number): Promise<{ exitedGracefully: boolean; ms: number }> {
  const started = Date.now();
  if (child.exitCode !== null || child.signalCode !== null) return { exitedGracefully: true, ms: 0 };
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const graceful = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!graceful) {
    child.kill('SIGKILL');
    await exited;
  }
  return { exitedGracefully: graceful, ms: Date.now() - started };
}

// ---------------------------------------------------------------------------------------------
// Servers and the load client.

export interface ServerProc {
  name: string;
  child: ChildProcess;
  rpc: Rpc;
  url: string;
  /** Output lines at level warn or above (pino JSON `level` >= 40, or anything not JSON). */
  warnings: string[];
  warningCount: number;
  /** The same, logged before the server answered its readiness check (configuration notices). */
  startupWarnings: string[];
  /** Why the process is gone, with its last output lines; null while it runs. */
  exitReport(): string | null;
  stop(): Promise<{ exitedGracefully: boolean; ms: number }>;
}

/**
 * `node --expose-gc --import tsx --import bench/server-hook.ts <entry>` (or the compiled files, see
 * runnable) with the given env, and an IPC channel for the hook. Resolves once `readyPath` answers 200.
 */
export async function startServerProcess(o: {
  name: string;
  entry: string;
  env: Record<string, string>;
  port: number;
  readyPath: string;
  readyTimeoutMs?: number;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeArgs?: string[];
}): Promise<ServerProc> {
  assertNotAborting();
  const baseEnv: NodeJS.ProcessEnv = { ...process.env };
  // Nothing of the caller's server configuration leaks in; only what the benchmark sets.
  for (const k of ['DATABASE_URL', 'DATA_DIR', 'PORT', 'JWT_SECRET', 'LOG_LEVEL', 'NODE_ENV', 'NODE_OPTIONS', 'INSTANCE_ID']) delete baseEnv[k];
  const entry = runnable(o.entry);
  const hook = runnable('bench/server-hook.ts');
  const warnings = warningLines();
  const srv = spawnServer(
    { ...o.env, PORT: String(o.port) },
    {
      name: o.name,
      entry: entry.file,
      loader: entry.execArgv,
      nodeArgs: ['--expose-gc', ...(o.nodeArgs ?? [])],
      imports: [`./${hook.file}`],
      baseEnv,
      ipc: true,
      onLine: warnings.onLine,
    },
  );
  const child = srv.child;
  const stopNow = onCleanup(`stop ${o.name}`, async () => {
    await stopChild(child, 15_000);
  });
  const rpc = new Rpc(child, o.name);
  try {
    await waitReady(srv, o.readyTimeoutMs ?? 60_000, o.readyPath);
  } catch (err) {
    await stopNow();
    throw err;
  }
  warnings.ready = true;
  return {
    name: o.name,
    child,
    rpc,
    url: srv.url,
    warnings: warnings.lines,
    startupWarnings: warnings.startup,
    exitReport: () =>
      srv.isRunning() ? null : `${o.name} exited during the run (code ${child.exitCode}, signal ${child.signalCode}); last output:\n${srv.tail()}`,
    get warningCount() {
      return warnings.count;
    },
    stop: async () => {
      const r = await stopChild(child, 15_000);
      await stopNow();
      return r;
    },
  };
}

/** Output lines at level warn or above (pino JSON `level` >= 40, or anything not JSON), the first 20 of each kind kept. */
function warningLines() {
  const w = {
    ready: false,
    count: 0,
    lines: [] as string[],
    startup: [] as string[],
    onLine: (line: string) => {
      let level = 50;
      try {
        level = Number(JSON.parse(line).level ?? 50);
      } catch {
        // not JSON: treat as a warning (stack traces, Node warnings)
      }
      if (level < 40) return;
      const short = line.length > 400 ? `${line.slice(0, 400)}...` : line;
      if (!w.ready) {
        if (w.startup.length < 20) w.startup.push(short);
        return;
      }
      w.count++;
      if (w.lines.length < 20) w.lines.push(short);
    },
  };
  return w;
}

export interface LoadClientProc {
  child: ChildProcess;
  rpc: Rpc;
  stop(): Promise<void>;
}

/** Forks bench/load-client.ts (or another client of the same protocol) under tsx and waits for its hello. */
export async function startLoadClient(file = 'load-client.ts'): Promise<LoadClientProc> {
  assertNotAborting();
  const child = fork(path.join(__dirname, file), [], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const stopNow = onCleanup(`stop ${file}`, async () => {
    if (child.connected) child.disconnect();
    await stopChild(child, 5_000);
  });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('load client did not start within 30 s')), 30_000);
    child.once('message', () => {
      clearTimeout(t);
      resolve();
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`load client exited during startup (code ${code})`));
    });
  });
  return { child, rpc: new Rpc(child, file.replace(/\.ts$/, '')), stop: stopNow };
}

/** Offset of a client's clock from ours, from the round trip with the smallest RTT. */
export async function measureClock(client: LoadClientProc): Promise<{ offsetMs: number; rttMs: number }> {
  let best = { offsetMs: 0, rttMs: Infinity };
  for (let i = 0; i < 20; i++) {
    const a = nowMs();
    const { t } = await client.rpc.call<{ t: number }>('clock');
    const b = nowMs();
    if (b - a < best.rttMs) best = { offsetMs: t - (a + b) / 2, rttMs: b - a };
  }
  return best;
}

/** How a phase gets a fresh database of its own: the server's environment for it, its kind, and how to drop it. */
export type PrepareDatabase = (embedded: boolean) => Promise<{ env: Record<string, string>; kind: string; drop: () => Promise<void> }>;
