import http from 'node:http';
import { checkedAnswer } from './contract';

export interface PollAnswer {
  status: number;
  body: any;
  /** Milliseconds from sending the request to the end of the answer. */
  tookMs: number;
}

/**
 * One GET /api/events on its own connection (no pool: a thousand can be held at once), with a
 * way to walk away from it as a phone losing signal would.
 */
export function longPoll(baseUrl: string, token: string, query: Record<string, string | number>) {
  const url = new URL('/api/events', baseUrl);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, String(v));
  const started = Date.now();
  const req = http.get(url, { agent: false, headers: { Authorization: `Bearer ${token}` } });
  const answer = new Promise<PollAnswer>((resolve, reject) => {
    req.once('error', reject);
    req.once('response', (res) => void checkedAnswer(res, 'GET', url.pathname).then((a) => resolve({ ...a, tookMs: Date.now() - started }), reject));
  });
  answer.catch(() => undefined);
  return { answer, abort: () => req.destroy() };
}

/** Resolves once `predicate` holds, checked every 10 ms; rejects after `timeoutMs`. */
export async function until(predicate: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
