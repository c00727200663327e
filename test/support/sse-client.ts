import { EventSource } from 'eventsource';
import { EVENT_TYPES } from '../../src/contract/event-names';
import { checkEvent, checkLater } from './contract';

export interface ReceivedEvent {
  type: string;
  id: string;
  data: any;
}

/**
 * Event names the tests listen for: the real `eventsource` client only reports named events it was
 * asked for. The server's types (shared with the browser client), control events, and the tests' own.
 */
export const LISTENED_TYPES = [...EVENT_TYPES, 'reset', 'auth_expired', 'message', 'test.event', 'test.other'];

export interface StreamOptions {
  token?: string;
  ticket?: string;
  lastEventId?: string;
  /** Sent as `?lastEventId=` instead of the header. */
  queryLastEventId?: string;
  /** Sent as `?types=`. */
  queryTypes?: string;
}

/** A real EventSource over a real socket, collecting what it receives. */
export class TestStream {
  readonly events: ReceivedEvent[] = [];
  readonly errors: Array<{ code?: number; message?: string }> = [];
  readonly es: EventSource;
  readonly opened: Promise<void>;
  private waiters: Array<() => void> = [];

  constructor(baseUrl: string, o: StreamOptions) {
    const url = new URL('/api/events/stream', baseUrl);
    if (o.ticket) url.searchParams.set('ticket', o.ticket);
    if (o.queryLastEventId !== undefined) url.searchParams.set('lastEventId', o.queryLastEventId);
    if (o.queryTypes !== undefined) url.searchParams.set('types', o.queryTypes);
    let first = true;
    this.es = new EventSource(url, {
      fetch: (input, init) => {
        const headers: Record<string, string> = { ...(init?.headers as Record<string, string>) };
        if (o.token) headers.Authorization = `Bearer ${o.token}`;
        // Our own initial Last-Event-ID; on its reconnects the client sends its current one itself.
        if (first && o.lastEventId !== undefined) headers['Last-Event-ID'] = o.lastEventId;
        first = false;
        return fetch(input, { ...init, headers });
      },
    });
    for (const type of LISTENED_TYPES) {
      this.es.addEventListener(type, (e: MessageEvent) => {
        const data = JSON.parse(e.data);
        // Every event received is held to the AsyncAPI document (reported at the test's end).
        if (type !== 'message') checkLater(() => checkEvent(data, type));
        this.events.push({ type, id: e.lastEventId, data });
        this.notify();
      });
    }
    this.opened = new Promise((resolve, reject) => {
      this.es.addEventListener('open', () => resolve(), { once: true });
      this.es.addEventListener('error', (e: any) => {
        this.errors.push({ code: e.code, message: e.message });
        this.notify();
        if (this.es.readyState === EventSource.CLOSED) reject(Object.assign(new Error(`stream failed: ${e.code} ${e.message}`), { code: e.code }));
      });
    });
    this.opened.catch(() => undefined);
  }

  idsOf(...types: string[]): string[] {
    return this.events.filter((e) => types.includes(e.type)).map((e) => e.id);
  }

  get ids(): string[] {
    return this.events.filter((e) => e.type !== 'reset' && e.type !== 'auth_expired').map((e) => e.id);
  }

  /** Resolves when `predicate` holds, re-checked on every received event; rejects after `timeoutMs`. */
  async waitFor(predicate: (s: TestStream) => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; received ${JSON.stringify(this.events.map((e) => [e.type, e.id]))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  waitForCount(n: number, timeoutMs?: number): Promise<void> {
    return this.waitFor((s) => s.ids.length >= n, timeoutMs, `${n} events`);
  }

  close(): void {
    this.es.close();
  }

  private notify() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

export async function openStream(baseUrl: string, o: StreamOptions): Promise<TestStream> {
  const s = new TestStream(baseUrl, o);
  await s.opened;
  return s;
}
