/** The api phase's requests to one server, and how it runs many of them a few at a time. */
import type http from 'node:http';
import { assertNotAborting, type ServerProc } from './procs';
import { requestJson } from './http';

/** Ours or the baseline: the steps only need its URL and whether it is still running. */
export type Target = Pick<ServerProc, 'url' | 'exitReport'>;

export type Call = (method: 'GET' | 'POST', p: string, token: string, body?: unknown) => Promise<{ status: number; body: string }>;

export const bump = (o: Record<string, number>, k: string) => (o[k] = (o[k] ?? 0) + 1);

/** Requests to one server: a failed one is an answer with status 0, unless the server is gone. */
export function caller(target: Target, pool: http.Agent): Call {
  return async (method, p, token, body) => {
    assertNotAborting();
    try {
      return await requestJson(method, `${target.url}${p}`, token, body, pool);
    } catch (err) {
      const why = target.exitReport();
      if (why) throw new Error(why, { cause: err });
      return { status: 0, body: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
    }
  };
}

export function parse(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export async function inBatches<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}
