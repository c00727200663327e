/** The `notify` phase's child processes (notify-worker.ts): forking one in a role, and stopping it. */
import path from 'node:path';
import { fork } from 'node:child_process';
import { ROOT, Rpc, assertNotAborting, onCleanup, runnable, stopChild } from './procs';

export interface Worker {
  rpc: Rpc;
  stop: () => Promise<void>;
}

export async function forkWorker(role: 'listener' | 'publisher' | 'rawlisten', env: Record<string, string>, label: string): Promise<Worker> {
  assertNotAborting();
  const worker = runnable('bench/notify-worker.ts');
  const child = fork(path.join(ROOT, worker.file), [role], {
    cwd: ROOT,
    execArgv: worker.execArgv,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const stop = onCleanup(`stop ${label}`, async () => {
    await stopChild(child, 5_000);
  });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${label} did not start within 60 s`)), 60_000);
    child.once('message', () => {
      clearTimeout(t);
      resolve();
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`${label} exited during startup (code ${code})`));
    });
  });
  return { rpc: new Rpc(child, label), stop };
}

/** Asks the worker to close its connections and exit, then makes sure the process is gone. */
export async function stopWorker(w: Worker): Promise<void> {
  await w.rpc.call('stop', {}, 10_000).catch(() => undefined);
  await w.stop();
}

/** Forks listener processes until there are `k`, a few at a time: each loads tsx and the server's modules. */
export async function forkListeners(listeners: Worker[], k: number, env: Record<string, string>): Promise<void> {
  while (listeners.length < k) {
    const batch = Math.min(4, k - listeners.length);
    const started = await Promise.all(Array.from({ length: batch }, (_, i) => forkWorker('listener', env, `notify listener ${listeners.length + i + 1}`)));
    listeners.push(...started);
  }
}
